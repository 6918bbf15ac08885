"""Calibration images for int8 conversion, preprocessed by the device's own code.

The int8 activation ranges are measured on these, so they must look exactly like what the device
feeds the network: MNIST training images through ``device.recognition.preprocess.prepare_mnist``, or another
digit set (photographed crops) normalised like camera crops and then preprocessed the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convert.options import DEFAULT_CALIBRATION_SIZE
from device.recognition.preprocess import prepare_mnist


def seeded_sample(images: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` (>= 1) images drawn without replacement (all of them when there are fewer), reproducibly."""
    rng = np.random.default_rng(seed)
    count = min(size, len(images))
    picked = np.sort(rng.choice(len(images), size=count, replace=False))
    return images[picked]


def mnist_calibration(train_images: np.ndarray, size: int = DEFAULT_CALIBRATION_SIZE,
                      seed: int = 0) -> np.ndarray:
    """Seeded sample of MNIST-style training images -> (size, 28, 28, 1) float32 network input."""
    return prepare_mnist(seeded_sample(np.asarray(train_images), size, seed))


NON_DIGIT_CALIBRATION_SHARE = 0.12  # of a non-digit model's calibration images: its non-digit examples


def with_non_digits(calibration: np.ndarray, train_images: np.ndarray, seed: int = 0) -> np.ndarray:
    """For a model with the non-digit class: a share of the calibration images replaced by non-digit
    examples (train/negatives.py, made from MNIST training digits), so that the int8 ranges also cover
    the marks the reader shows the model that are not one digit."""
    from train.negatives import non_digit_batch

    count = round(NON_DIGIT_CALIBRATION_SHARE * len(calibration))
    if count == 0:
        return calibration
    marks = prepare_mnist(non_digit_batch(np.asarray(train_images), count, np.random.default_rng([seed, 1])))
    return np.concatenate([calibration[: len(calibration) - count], marks])


def digit_set_calibration(path: str | Path, size: int = DEFAULT_CALIBRATION_SIZE,
                          seed: int = 0) -> np.ndarray:
    """Seeded sample of a digit set (``.npz`` or a folder ``0/`` .. ``9/``) -> network input.

    Read as ``train --extra`` reads it (``train.data.load_extra``: the shared data layer, which normalises
    crops that are not MNIST-style as the camera path's stage 1 does); ``prepare_mnist`` adds stage 2.
    """
    from train.data import load_extra

    digits = load_extra(path)
    return prepare_mnist(seeded_sample(digits.x, size, seed))
