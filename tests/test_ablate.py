"""scripts/ablate.py: how a variant changes a recipe (the trainings themselves are too long for tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from ablate import apply_variant, slug

from train.recipes import RECIPES


def test_base_is_the_recipe_with_the_given_epochs():
    recipe = apply_variant("base", 7, "robust")
    assert recipe.epochs == 7
    assert recipe.model == RECIPES["robust"].model and recipe.clean_fraction == RECIPES["robust"].clean_fraction


def test_several_changes_reach_the_recipe_and_its_model():
    recipe = apply_variant("l2=1e-4,clean_fraction=0.8,batch_size=256,pool2=avg", 3, "robust")
    assert recipe.model.l2 == pytest.approx(1e-4) and recipe.model.pool2 == "avg"
    assert recipe.clean_fraction == pytest.approx(0.8)
    assert recipe.batch_size == 256 and isinstance(recipe.batch_size, int)
    assert recipe.name == "robust"


def test_the_shipped_recipe_is_the_measured_gpu_variant():
    # docs/log/2026-12.md: the robust recipe is the one scripts/ablate.py measured as "l2=0,clean_fraction=0.6"
    assert apply_variant("l2=0,clean_fraction=0.6", 50, "robust") == RECIPES["robust"]


@pytest.mark.parametrize(("variant", "message"), [("colour=red", "unknown setting"), ("l2=lots", "needs a number")])
def test_a_bad_variant_stops_with_a_message(variant, message):
    with pytest.raises(SystemExit, match=message):
        apply_variant(variant, 3, "robust")


def test_folder_names_are_plain():
    assert slug("l2=1e-4,clean_fraction=0.6") == "l2_1e-4-clean_fraction_0.6"
    assert slug("") == "base"
