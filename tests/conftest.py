"""Shared fixtures: MNIST (the full file when ../shared is present, else the bundled subset)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SUBSET_PATH = REPO / "tests" / "data" / "mnist_subset.npz"
# CI puts the full data set beside the clone; MNIST_NPZ overrides the place.
FULL_MNIST_PATH = Path(os.environ.get("MNIST_NPZ", REPO.parent / "shared" / "data" / "mnist.npz"))


def mnist_path() -> Path:
    """The full MNIST when it exists, else the bundled subset."""
    return FULL_MNIST_PATH if FULL_MNIST_PATH.is_file() else SUBSET_PATH


@pytest.fixture(scope="session")
def mnist_npz_path() -> Path:
    return mnist_path()


@pytest.fixture(scope="session")
def mnist_small() -> dict[str, np.ndarray]:
    """2,000 training and 500 test digits: enough for fast tests, the same wherever they run."""
    with np.load(mnist_path(), allow_pickle=False) as data:
        return {
            "x_train": data["x_train"][:2000],
            "y_train": data["y_train"][:2000],
            "x_test": data["x_test"][:500],
            "y_test": data["y_test"][:500],
        }
