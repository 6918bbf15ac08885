"""What a model that may ship can learn from.

The bundled model is trained only on data whose licence lets a model trained on it be given away: MNIST
(CC BY-SA 3.0), synthetic data (train/augment.py, train/styles.py, train/scenes) and the CC BY 4.0 real
handwriting of train/realsets.py. Research sets (USPS, ORAND-CAR, any set whose README says it is for
research) measure models and show fine-tuning; they never go into a model that may ship. Recipes marked
``shippable`` (``robust``, ``styles``, ``reader``, ``reader-real``) refuse them; ``paper`` (the paper's
second experiment) and ``personal`` (fine-tuning) take them.
"""

from __future__ import annotations

import re
from pathlib import Path

# Collections known to be for research only, by a part of their file or folder names.
KNOWN_RESEARCH_SETS = {"usps": "USPS", "orand": "ORAND-CAR"}
_RESEARCH_NOTE = re.compile(r"research (data|use|and evaluation use)|for research", re.IGNORECASE)


class DataRuleError(ValueError):
    """A research set given to a recipe whose model may ship (one-line message)."""


def research_set_name(path: str | Path) -> str | None:
    """The name of the research collection ``path`` belongs to, or None when nothing says it is one.

    Known collections are recognised by the name of the set or of its folder (``usps/usps.npz``,
    ``orand_car_a_dev/``); any other set by a README beside it (in its folder, or beside the .npz) that says
    it is research data.
    """
    path = Path(path)
    for part in (p.lower() for p in path.resolve().parts[-2:]):
        for fragment, name in KNOWN_RESEARCH_SETS.items():
            if fragment in part:
                return name
    folder = path if path.is_dir() else path.parent
    for readme in sorted(folder.glob("README*")):
        try:
            text = readme.read_text(errors="replace")[:20_000]
        except OSError:
            continue
        if _RESEARCH_NOTE.search(text):
            return path.name
    return None


def check_shippable_data(recipe_name: str, shippable: bool, extra: str | Path | None) -> None:
    """Raise DataRuleError when a recipe whose model may ship is given a research set."""
    if not shippable or extra is None:
        return
    name = research_set_name(extra)
    if name is not None:
        raise DataRuleError(
            f"recipe '{recipe_name}' trains a model that may ship, and {extra} is research data ({name}): "
            "measure with it (device eval), or mix it in with --config paper (the paper's experiment) "
            "or --config personal (fine-tuning)")
