"""A second look at an unsure digit: read it again at other stroke widths and other proportions, and average.

People write with every pen from a fine liner to a marker, and a camera blurs or thins strokes further; they
write narrow and wide digits too (a tall thin 0, a flat 2), where MNIST's are of one build. The network's answer
for a digit it is unsure of often changes with the stroke width or the width-to-height ratio alone. Averaging
its probabilities over five readings (test-time augmentation: as written, a pixel thicker, a pixel thinner,
squeezed to 0.7 and stretched to 1.4 of its width) reads more of those digits right. The stroke widths took
ORAND's cut-out real digits from 89.1 to 90.3 %, MNIST test from 99.44 to 99.51 %, USPS from 98.55 to 98.72 %
with the model of their time; the proportions, with the shipped model, ORAND 92.54 -> 93.11 %, MNIST
99.48 -> 99.54 %, USPS 98.73 -> 98.95 % (docs/log/2026-12.md). Only digits read with less than UNSURE_BELOW
confidence get the second look (a fifth of ORAND's, 2 % of MNIST's: nearly all gain, little time), and the
variants come from the MNIST-style image, before the paper's preprocessing, which they then go through like any
crop (``prepare_mnist``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from device.recognition.decision import best_digits
from device.recognition.preprocess import normalize_digit, prepare_mnist

UNSURE_BELOW = 0.9  # digits read less surely than this are read again at two more stroke widths and proportions
_KERNEL = np.ones((2, 2), np.uint8)  # one pixel thicker / thinner at 28x28
PROPORTIONS = (0.7, 1.4)  # the width of the ink, times these (0.8 and 1.25, 0.6 and 1.6, 0.85 and 1.15 read fewer)

Predict = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) network input -> (N, classes) probabilities


def stroke_variants(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 MNIST-style digits -> (2N, 28, 28): each with thicker strokes, then each with thinner."""
    thicker = [cv2.dilate(image, _KERNEL) for image in images]
    thinner = [cv2.erode(image, _KERNEL) for image in images]
    return np.asarray(thicker + thinner, np.uint8).reshape(-1, *images.shape[1:])


def proportion_variants(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 MNIST-style digits -> (len(PROPORTIONS) * N, 28, 28): each squeezed or stretched
    sideways by each factor in turn, then normalised again as MNIST was made (20x20 box, centre of mass)."""
    out = []
    for factor in PROPORTIONS:
        for image in images:
            width = max(1, round(image.shape[1] * factor))
            resized = cv2.resize(image, (width, image.shape[0]), interpolation=cv2.INTER_AREA)
            out.append(normalize_digit(resized, ink="bright"))
    return np.asarray(out, np.uint8).reshape(-1, *images.shape[1:])


def second_look(predict: Predict, images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``probabilities`` of ``images`` (MNIST-style), with each unsure row replaced by its mean over five
    readings: as written, at two more stroke widths and at two more proportions (one more inference for all
    of them together)."""
    _, confidence, _ = best_digits(probabilities)
    unsure = np.flatnonzero(confidence < UNSURE_BELOW)
    if unsure.size == 0:
        return probabilities
    variants = np.concatenate([stroke_variants(images[unsure]), proportion_variants(images[unsure])])
    more = predict(prepare_mnist(variants)).reshape(-1, unsure.size, probabilities.shape[-1])
    out = np.array(probabilities, np.float32, copy=True)
    out[unsure] = (out[unsure] + more.sum(axis=0)) / np.float32(1 + len(more))
    return out


def read_probabilities(predict: Predict, images: np.ndarray) -> np.ndarray:
    """(N, classes) probabilities of MNIST-style digits as the device reads them: one inference through the
    paper's preprocessing, then the second look for the unsure ones."""
    return second_look(predict, images, predict(prepare_mnist(images)))
