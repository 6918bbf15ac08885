"""What a trained model learned from: its recipe and data, with the licences, for the model's metadata.

``convert`` stores this record inside the ``.tflite`` (device/recognition/modelinfo.py, ``training``) so
that ``device info`` can say what a model is and where its data came from. The record is taken from the
``config.json`` that ``train`` writes beside ``model.keras``, or from a recipe named on convert's command
line for a model without one (the bundled ``train/models/reader.keras``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from train.data_rules import research_set_name
from train.realsets import REAL_SETS, source_record
from train.recipes import RECIPES, Recipe

MNIST_SOURCE = {
    "name": "MNIST",
    "licence": "CC BY-SA 3.0",
    "attribution": "Yann LeCun (Courant Institute, NYU), Corinna Cortes (Google Labs) and Christopher J.C. "
                   "Burges; derived from NIST SD-3 and SD-1. Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "
                   "Gradient-based learning applied to document recognition, Proc. IEEE 86(11), 1998",
    "url": "http://yann.lecun.com/exdb/mnist/",
}
SYNTHETIC_SOURCE = {
    "name": "synthetic digits and non-digit marks, generated from MNIST by this project",
    "licence": "MIT (this project's code: train/augment.py, train/styles.py, train/negatives.py)",
    "attribution": "zmg-digits authors",
    "url": "",
}


def recipe_data(recipe: Recipe, extra: str | None = None,
                real_sets: list[str] | None = None) -> list[dict[str, str]]:
    """The data sets a run of ``recipe`` (plus an ``extra`` set mixed in) learned from. ``real_sets``: the
    real handwriting sets the run took (the recipe's when None: a run may choose others with --real-sets)."""
    sources = [dict(MNIST_SOURCE)]
    if recipe.augment or recipe.non_digit_share > 0:
        sources.append(dict(SYNTHETIC_SOURCE))
    names = [name for name, _ in recipe.real_sets] if real_sets is None else real_sets
    sources.extend(source_record(name) for name in names if name in REAL_SETS)
    if extra:
        research = research_set_name(extra)
        licence = (f"research only ({research}): a model trained on it may not ship" if research
                   else "see the set's own README")
        sources.append({"name": Path(extra).name, "licence": licence, "attribution": "", "url": ""})
    return sources


def training_record(model_path: str | Path, recipe_name: str | None = None) -> dict[str, Any]:
    """Recipe, settings and data of the model at ``model_path``: from its run's config.json, else ``recipe_name``.

    Without either, the record says the recipe is unknown rather than guessing. ValueError for a
    recipe name train does not know.
    """
    config_path = Path(model_path).with_name("config.json")
    config = _read_config(config_path)
    if config is not None and recipe_name is None:
        settings = config.get("recipe") or {}
        recipe = RECIPES.get(str(settings.get("name", "")))
        extra = config.get("extra")
        extra = None if extra in (None, "None", "") else str(extra)
        taken = [str(item[0]) for item in settings.get("real_sets") or [] if isinstance(item, list | tuple) and item]
        return {
            "recipe": str(settings.get("name", "unknown")),
            "recorded_by": f"train, in the {config_path.name} beside the Keras model",
            "settings": settings,
            "epochs": config.get("epochs"),
            "seed": config.get("seed"),
            "data": recipe_data(recipe, extra, taken) if recipe else [dict(MNIST_SOURCE)],
        }
    if recipe_name is not None:
        if recipe_name not in RECIPES:
            raise ValueError(f"unknown recipe {recipe_name!r}: train knows {', '.join(RECIPES)}")
        recipe = RECIPES[recipe_name]
        return {
            "recipe": recipe.name,
            "recorded_by": "convert --recipe; the Keras model's run left no config.json",
            "settings": recipe.to_dict(),
            "data": recipe_data(recipe),
        }
    return {"recipe": "unknown", "recorded_by": "nothing: no config.json beside the Keras model, no --recipe",
            "data": []}


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
