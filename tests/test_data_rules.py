"""The data rule: recipes whose model may ship refuse research sets (train/data_rules.py)."""

from __future__ import annotations

import numpy as np
import pytest

from train.data_rules import DataRuleError, check_shippable_data, research_set_name
from train.recipes import RECIPES


def test_known_research_sets_are_recognised_by_name(tmp_path):
    assert research_set_name(tmp_path / "usps" / "usps.npz") == "USPS"
    assert research_set_name(tmp_path / "orand_car_a_dev") == "ORAND-CAR"
    assert research_set_name(tmp_path / "my_digits") is None


def test_a_readme_that_says_research_marks_a_set(tmp_path):
    folder = tmp_path / "someone_elses_digits"
    folder.mkdir()
    (folder / "README.md").write_text("# Digits\nResearch and evaluation use only.\n")
    assert research_set_name(folder) == "someone_elses_digits"
    (folder / "digits.npz").write_bytes(b"")
    assert research_set_name(folder / "digits.npz") == "digits.npz"


def test_only_the_shippable_recipes_refuse(tmp_path):
    usps = tmp_path / "usps.npz"
    for name in ("robust", "styles", "reader"):
        assert RECIPES[name].shippable
        with pytest.raises(DataRuleError, match="research data"):
            check_shippable_data(name, RECIPES[name].shippable, usps)
    for name in ("paper", "paper-plain"):
        check_shippable_data(name, RECIPES[name].shippable, usps)  # the paper's experiment 2 mixes USPS in
    check_shippable_data("styles", True, None)
    check_shippable_data("styles", True, tmp_path / "my_digits")


def test_train_refuses_a_research_set_for_a_shippable_recipe_with_one_line(tmp_path, capsys):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    from train.cli import main

    usps = tmp_path / "usps.npz"
    np.savez(usps, x=np.zeros((2, 16, 16), np.uint8), y=np.zeros(2, np.int64))
    assert main(["--config", "styles", "--extra", str(usps), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "research data (USPS)" in err and "--config paper" in err
    assert not (tmp_path / "run").exists()  # refused before anything was written
