"""What a mark is, from the model's probabilities: a digit, or (a model with the eleventh class) no digit.

A ten-class model can only say which digit. A model trained with the "non-digit" class (``train --config
reader``: touching digits, dashes, ``=`` signs, field borders) also says how likely the mark is not one digit.
Its training shows it a non-digit example for every eight digits, far more than a page holds beside its
digits, so at even odds it drops real digits (a flat 0, a 5 whose bar stands apart): a mark is called no
digit only when that class is ``1 / NON_DIGIT_ODDS`` times likelier than its best digit. The reader
(``recognizer``, ``split``), ``Recognizer.classify`` and ``device eval`` all decide by this one rule.
"""

from __future__ import annotations

import numpy as np

from device.common.shapes import NUM_CLASSES

NON_DIGIT = NUM_CLASSES  # the eleventh class's index
NON_DIGIT_ODDS = 0.1  # a mark is no digit when the non-digit class is 10x likelier than its best digit
# (measured on ORAND dev, issue 12: 0.05 and 0.2 read the same strings; 1.0 drops 4 % of its real digits)


def best_digits(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, C) probabilities -> (best digit (N,) int64, its probability (N,), the non-digit class's (N,), 0
    for a ten-class model). The digits' probabilities are the model's own, not renormalised without the
    eleventh class: touching digits give much of theirs to it, which is what tells the reader to cut."""
    probabilities = np.asarray(probabilities, np.float32).reshape(-1, probabilities.shape[-1])
    digits = probabilities[:, :NUM_CLASSES].argmax(axis=1).astype(np.int64)
    confidence = probabilities[np.arange(len(digits)), digits]
    if probabilities.shape[1] > NUM_CLASSES:
        return digits, confidence, probabilities[:, NON_DIGIT]
    return digits, confidence, np.zeros(len(digits), np.float32)


def is_no_digit(confidence: np.ndarray | float, non_digit: np.ndarray | float) -> np.ndarray | bool:
    """Whether a mark with this best-digit probability and non-digit probability is no digit at all."""
    return np.asarray(non_digit) * NON_DIGIT_ODDS > np.asarray(confidence)


def decided_classes(probabilities: np.ndarray) -> np.ndarray:
    """(N, C) probabilities -> (N,) int64: the best digit, or NON_DIGIT where ``is_no_digit``."""
    digits, confidence, non_digit = best_digits(probabilities)
    return np.where(is_no_digit(confidence, non_digit), NON_DIGIT, digits).astype(np.int64)
