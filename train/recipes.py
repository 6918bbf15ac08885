"""Training recipes (``train --config NAME``): every setting of a run in one place.

``paper``: the paper's network and data path (MNIST through the paper's preprocessing), with the
settings the paper leaves open chosen as recorded in docs/paper-choices.md; among them, elastic
distortion of the training digits (train/augment.py).
``paper-plain``: the same without any augmentation, the most literal reading of the paper.
``robust``: the same network trained on camera-like re-renderings of MNIST (train/augment.py), the
recipe of the previous shipped model. Its augmentation regularises enough that it trains without L2
(measured on a GPU with scripts/ablate.py: docs/paper-choices.md).
``styles``: ``robust`` plus the writing styles MNIST lacks (continental 1, crossed 7, open 4, 9 with a
straight stem, pen widths, aspect ratios: train/styles.py), security-patterned paper and JPEG; for
readers of everyone's handwriting (docs/log/2026-12.md).
``reader``: ``styles`` plus an eleventh class, "non-digit" (touching digits, dashes, ``=`` signs, field
borders: train/negatives.py), with which the string reader tells one digit from what is not; the
recipe of the bundled model until the real sets came.
``reader-real``: ``reader`` plus real handwriting of other traditions whose licences let the model ship
(train/realsets.py: UNIPEN, UJI, optdigits; pendigits on request), each repeated per epoch by its weight
(``real_sets``), chosen by the ablation of ``scripts/ablate_real_sets.py`` (docs/log/2026-12.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from device.common.shapes import NUM_CLASSES
from train.augment import AugmentConfig
from train.model import ModelConfig


@dataclass(frozen=True)
class Recipe:
    name: str
    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3  # Adam, cosine-decayed to lr_floor * learning_rate over the run
    lr_floor: float = 0.01
    augment: bool = False  # re-draw the training digits every epoch (train/augment.py)
    clean_fraction: float = 0.4  # with augment: share kept in MNIST's rendering (most elastically distorted),
    # the rest re-rendered as a camera sees them; 1.0 = elastic distortion only
    style_share: float = 0.0  # with augment: share of digits given a writing style MNIST lacks (train/styles.py)
    pattern_prob: float = 0.0  # with augment: share of camera-like digits on security-patterned paper
    jpeg_prob: float = 0.0  # with augment: share of camera-like digits through a JPEG round trip
    neighbour_digit_prob: float = 0.0  # with augment: share of camera-like digits with a neighbour's piece in
    # their box (train/augment.py), as where real digits touch
    non_digit_share: float = 0.0  # examples of the "non-digit" class added per training digit (train/negatives.py);
    # needs model.classes == 11 (train.trainer.epoch_size counts them)
    real_sets: tuple[tuple[str, float], ...] = ()  # (set, copies per epoch) of train/realsets.py, writers held out
    shippable: bool = False  # trains the bundled model: MNIST, synthetic data and shippable real sets only
    model: ModelConfig = field(default_factory=ModelConfig)

    def augment_config(self) -> AugmentConfig:
        """The camera-like augmentation's settings for this recipe."""
        return AugmentConfig(pattern_prob=self.pattern_prob, jpeg_prob=self.jpeg_prob,
                             neighbour_digit_prob=self.neighbour_digit_prob)

    def __post_init__(self) -> None:
        for name, weight in self.real_sets:
            if weight < 0:
                raise ValueError(f"recipe {self.name}: real set {name} has a negative weight")
        if self.non_digit_share > 0 and (not self.augment or self.model.classes != NUM_CLASSES + 1):
            raise ValueError(f"recipe {self.name}: non-digit examples need augment=True and an 11-class model")

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON has them (tuples as lists), so that what a model's metadata stores reads back
        the same."""
        return json.loads(json.dumps(asdict(self)))


RECIPES: dict[str, Recipe] = {
    "paper": Recipe(name="paper", epochs=30, augment=True, clean_fraction=1.0),
    "paper-plain": Recipe(name="paper-plain", epochs=12),
    "robust": Recipe(name="robust", epochs=50, augment=True, clean_fraction=0.6, shippable=True,
                     model=ModelConfig(l2=0.0)),
    "styles": Recipe(name="styles", epochs=50, augment=True, clean_fraction=0.5, style_share=0.2,
                     pattern_prob=0.25, jpeg_prob=0.3, shippable=True, model=ModelConfig(l2=0.0)),
    "reader": Recipe(name="reader", epochs=50, augment=True, clean_fraction=0.5, style_share=0.2,
                     pattern_prob=0.25, jpeg_prob=0.3, non_digit_share=0.12, shippable=True,
                     model=ModelConfig(l2=0.0, classes=NUM_CLASSES + 1)),
    "reader-real": Recipe(name="reader-real", epochs=50, augment=True, clean_fraction=0.5, style_share=0.2,
                          pattern_prob=0.25, jpeg_prob=0.3, non_digit_share=0.12, shippable=True,
                          neighbour_digit_prob=0.15,
                          # pendigits (8 points a digit) left out: it moved no real cheque digit and cost MNIST
                          real_sets=(("unipen", 1.0), ("uji", 3.0), ("optdigits", 1.0)),
                          model=ModelConfig(l2=0.0, classes=NUM_CLASSES + 1)),
}


def parse_real_sets(text: str) -> tuple[tuple[str, float], ...]:
    """``unipen=1,uji=3`` -> (("unipen", 1.0), ("uji", 3.0)); ``none`` -> (). ValueError (one line) otherwise."""
    from train.realsets import REAL_SETS

    if text.strip().lower() in ("", "none"):
        return ()
    sets: list[tuple[str, float]] = []
    for item in text.split(","):
        name, _, raw = item.strip().partition("=")
        if name not in REAL_SETS:
            raise ValueError(f"unknown real handwriting set {name!r}: known are {', '.join(REAL_SETS)}")
        try:
            weight = float(raw) if raw else 1.0
        except ValueError:
            raise ValueError(f"{item!r}: the weight of {name} must be a number") from None
        if not 0 <= weight <= 100:
            raise ValueError(f"{item!r}: the weight of {name} must be between 0 and 100")
        if weight > 0:
            sets.append((name, weight))
    return tuple(sets)


def get_recipe(
    name: str, epochs: int | None = None, batch_size: int | None = None, learning_rate: float | None = None,
    real_sets: tuple[tuple[str, float], ...] | None = None,
) -> Recipe:
    """The named recipe with optional overrides from the command line."""
    recipe = RECIPES[name]
    overrides: dict[str, Any] = {}
    if real_sets is not None:
        overrides["real_sets"] = real_sets
    if epochs is not None:
        overrides["epochs"] = epochs
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    if learning_rate is not None:
        overrides["learning_rate"] = learning_rate
    return replace(recipe, **overrides)
