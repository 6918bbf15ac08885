"""Digit sets for training: MNIST and other people's handwriting, loaded through device/'s data layer and split.

- MNIST from a Keras-layout ``.npz``, a folder of the four IDX files (optionally gzipped), or, with no
  path, the usual Keras download and cache (the only part that lives here: the device never downloads).
- Another handwriting set (``train --extra``) from an ``.npz`` or a folder ``0/`` .. ``9/`` of images, read
  exactly as ``device eval`` reads it (``device.data.digitsets.load_digits``): digits that are not
  MNIST-style are normalised as camera crops are, then every set shares the paper's preprocessing.
- ``split_half``: the paper's second experiment, a seeded, stratified, disjoint half/half split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.common.errors import first_line
from device.data.digitsets import DataError, DigitSet, load_digits, mnist_arrays, mnist_sets

__all__ = ["DataError", "DigitSet", "Mnist", "hold_out", "load_extra", "load_mnist", "split_half"]


@dataclass(frozen=True)
class Mnist:
    train: DigitSet
    test: DigitSet
    source: str  # where it came from, for reports


def load_mnist(path: str | Path | None = None) -> Mnist:
    """MNIST from a Keras-layout .npz, a folder of IDX files, or (None) the Keras download cache."""
    if path is None:
        try:
            import keras  # training side only: the device never downloads

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as err:  # network errors come in many types
            raise DataError(f"cannot download MNIST ({first_line(err)}); give the path of a mnist.npz") from None
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        source = "MNIST (Keras download)"
    else:
        arrays = mnist_arrays(path)
        source = str(path)
    train, test = mnist_sets(arrays, source)
    return Mnist(train, test, source)


def load_extra(path: str | Path) -> DigitSet:
    """Another handwriting set as (N, 28, 28) uint8 MNIST-style digits: all of it (both parts if Keras-layout)."""
    return load_digits(path, part="all")


def split_half(digits: DigitSet, seed: int = 0) -> tuple[DigitSet, DigitSet]:
    """Seeded, stratified, disjoint half/half split: (mixed into training, held out for testing).

    Each class is shuffled and cut in two; an odd class gives its extra image to the held-out half.
    """
    rng = np.random.default_rng(seed)
    train_idx: list[np.ndarray] = []
    held_idx: list[np.ndarray] = []
    for digit in range(10):
        members = np.flatnonzero(digits.y == digit)
        rng.shuffle(members)
        half = len(members) // 2
        train_idx.append(members[:half])
        held_idx.append(members[half:])
    first, second = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(held_idx))
    return (DigitSet(digits.x[first], digits.y[first], digits.style),
            DigitSet(digits.x[second], digits.y[second], digits.style))


def hold_out(digits: DigitSet, count: int, seed: int = 0) -> tuple[DigitSet, DigitSet]:
    """Seeded, stratified split of ``count`` digits for validation: (the rest, the held-out ones).

    Model choices (epochs, seeds, recipes) are made on these, never on the test set. Each class gives its
    share of ``count``; the order of both parts is the original order.
    """
    if not 0 < count < len(digits):
        raise DataError(f"cannot hold out {count} of {len(digits)} digits for validation")
    rng = np.random.default_rng([seed, 7919])  # its own stream: the same split whatever else uses the seed
    held: list[np.ndarray] = []
    for digit in range(10):
        members = np.flatnonzero(digits.y == digit)
        held.append(rng.permutation(members)[: round(count * len(members) / len(digits))])
    mask = np.zeros(len(digits), bool)
    mask[np.concatenate(held)] = True
    return (DigitSet(digits.x[~mask], digits.y[~mask], digits.style),
            DigitSet(digits.x[mask], digits.y[mask], digits.style))
