"""A second look at an unsure digit: read it as written, with its strokes a pixel thicker and a pixel thinner.

People write with every pen from a fine liner to a marker, and a camera blurs or thins strokes further; the
network's answer for a digit it is unsure of often changes with the stroke width alone. Averaging its
probabilities over the three widths (test-time augmentation) reads more of those digits right: on ORAND's
cut-out real digits 89.1 -> 90.3 %, MNIST test 99.44 -> 99.51 %, USPS 98.55 -> 98.72 % (docs/RESULTS.md). Only
digits read with less than UNSURE_BELOW confidence get the second look (a fifth of ORAND's, 2 % of MNIST's:
nearly all gain, little time), and the variants come from the MNIST-style image, before the paper's
preprocessing, which they then go through like any crop (``prepare_mnist``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from device.recognition.decision import best_digits
from device.recognition.preprocess import prepare_mnist

UNSURE_BELOW = 0.9  # digits read less surely than this are read again at two more stroke widths
_KERNEL = np.ones((2, 2), np.uint8)  # one pixel thicker / thinner at 28x28

Predict = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) network input -> (N, classes) probabilities


def stroke_variants(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 MNIST-style digits -> (2N, 28, 28): each with thicker strokes, then each with thinner."""
    thicker = [cv2.dilate(image, _KERNEL) for image in images]
    thinner = [cv2.erode(image, _KERNEL) for image in images]
    return np.asarray(thicker + thinner, np.uint8).reshape(-1, *images.shape[1:])


def second_look(predict: Predict, images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``probabilities`` of ``images`` (MNIST-style), with each unsure row replaced by its mean over the three
    stroke widths (one more inference for all of them together)."""
    _, confidence, _ = best_digits(probabilities)
    unsure = np.flatnonzero(confidence < UNSURE_BELOW)
    if unsure.size == 0:
        return probabilities
    more = predict(prepare_mnist(stroke_variants(images[unsure])))
    out = np.array(probabilities, np.float32, copy=True)
    out[unsure] = (out[unsure] + more[: unsure.size] + more[unsure.size :]) / np.float32(3.0)
    return out


def read_probabilities(predict: Predict, images: np.ndarray) -> np.ndarray:
    """(N, classes) probabilities of MNIST-style digits as the device reads them: one inference through the
    paper's preprocessing, then the second look for the unsure ones."""
    return second_look(predict, images, predict(prepare_mnist(images)))
