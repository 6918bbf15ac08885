"""Training recipes (``train --config NAME``): every setting of a run in one place.

``paper``: the paper's network and data path (MNIST through the paper's preprocessing), with the
settings the paper leaves open chosen as recorded in docs/paper-choices.md; among them, elastic
distortion of the training digits (train/augment.py).
``paper-plain``: the same without any augmentation, the most literal reading of the paper.
``robust``: the same network trained on camera-like re-renderings of MNIST (train/augment.py), the
recipe of the model we ship. Its augmentation regularises enough that it trains without L2 (measured
on a GPU with scripts/ablate.py: docs/paper-choices.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

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
    model: ModelConfig = field(default_factory=ModelConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    "paper": Recipe(name="paper", epochs=30, augment=True, clean_fraction=1.0),
    "paper-plain": Recipe(name="paper-plain", epochs=12),
    "robust": Recipe(name="robust", epochs=50, augment=True, clean_fraction=0.6, model=ModelConfig(l2=0.0)),
}


def get_recipe(
    name: str, epochs: int | None = None, batch_size: int | None = None, learning_rate: float | None = None
) -> Recipe:
    """The named recipe with optional overrides from the command line."""
    recipe = RECIPES[name]
    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = epochs
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    if learning_rate is not None:
        overrides["learning_rate"] = learning_rate
    return replace(recipe, **overrides)
