"""A model with the eleventh class, "non-digit": how the runtime, the reader and the evaluation use it.

The model here is the bundled one with its eleventh output replaced by a made-up one that wins for any crop
whose ink is much wider than tall (a dash, a wave): what the trained class does for the marks written beside an
amount, made predictable. A ten-class model (the bundled one without its eleventh output) still reads.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.recognition.recognizer import reading_string
from device.recognition.rejections import NOT_A_DIGIT, Rejection
from device.recognition.runtime import TFLiteModel
from device.tools.evaluate import evaluation


class FlatMarksAreNoDigit(TFLiteModel):
    """The bundled model's digits, and an eleventh class that wins for inputs whose ink is 1.3 times wider than tall."""

    def __init__(self) -> None:
        self.__dict__.update(TFLiteModel().__dict__)  # the loaded interpreter, shared
        self.classes = 11

    def predict(self, batch: np.ndarray) -> np.ndarray:
        probabilities = super().predict(batch)
        digits = probabilities[:, :10] / np.maximum(probabilities[:, :10].sum(axis=1, keepdims=True), 1e-6)
        out = np.zeros((len(digits), 11), np.float32)
        for i, image in enumerate(np.asarray(batch)[..., 0]):
            rows, cols = np.flatnonzero((image > 0.5).any(axis=1)), np.flatnonzero((image > 0.5).any(axis=0))
            flat = rows.size > 0 and cols[-1] - cols[0] > 1.3 * (rows[-1] - rows[0])
            out[i, :10] = digits[i] * (0.05 if flat else 1.0)
            out[i, 10] = 0.95 if flat else 0.0
        return out


@pytest.fixture(scope="module")
def model() -> FlatMarksAreNoDigit:
    return FlatMarksAreNoDigit()


def _digit(mnist_small, digit: int) -> np.ndarray:
    """An MNIST test digit as dark ink on white, 112 px tall."""
    image = mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == digit)[0]]
    return cv2.resize(255 - image, (112, 112), interpolation=cv2.INTER_LINEAR)


def _number_then_wave(mnist_small) -> np.ndarray:
    """A frame: "35", then a wavy dash as tall as two thirds of a digit, as written after an amount."""
    frame = np.full((480, 640), 255, np.uint8)
    frame[150:262, 100:212] = np.minimum(frame[150:262, 100:212], _digit(mnist_small, 3))
    frame[150:262, 190:302] = np.minimum(frame[150:262, 190:302], _digit(mnist_small, 5))
    x = np.arange(330, 500)
    y = 215 + 28 * np.sin((x - 330) / 170 * 2 * np.pi)
    cv2.polylines(frame, [np.stack([x, y], axis=1).astype(np.int32)], False, 0, 12, cv2.LINE_AA)
    return frame


class TenClasses(TFLiteModel):
    """The bundled model without its eleventh output: a model of digits only, as before the non-digit class."""

    def __init__(self) -> None:
        self.__dict__.update(TFLiteModel().__dict__)
        self.classes = 10

    def predict(self, batch: np.ndarray) -> np.ndarray:
        probabilities = super().predict(batch)[:, :10]
        return probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-6)


def test_the_bundled_model_has_the_non_digit_class_and_names_it():
    bundled = TFLiteModel()
    assert bundled.has_non_digit and bundled.classes == 11
    assert bundled.labels == (*"0123456789", "non-digit") == bundled.metadata.labels


def test_a_ten_class_model_still_reads_and_never_says_no_digit(mnist_small):
    recognizer = Recognizer(TenClasses())
    frame = _number_then_wave(mnist_small)
    found, rejections = recognizer.read_with_rejections(frame)
    assert reading_string(found).startswith("35")
    assert not [r for r in rejections if r.reason == NOT_A_DIGIT]
    classes, probabilities = recognizer.classify([_digit(mnist_small, 7)], ink="dark")
    assert probabilities.shape == (1, 10) and classes.tolist() == [7]


def test_classify_reports_the_non_digit_class(model, mnist_small):
    wave = _number_then_wave(mnist_small)[170:270, 320:510]
    classes, probabilities = Recognizer(model).classify([wave, _digit(mnist_small, 7)], ink="dark")
    assert probabilities.shape == (2, 11)
    assert classes.tolist() == [10, 7]


def test_read_drops_the_mark_as_not_a_digit_and_says_so(model, mnist_small):
    frame = _number_then_wave(mnist_small)
    found, rejections = Recognizer(model).read_with_rejections(frame)
    assert reading_string(found) == "35"
    not_digits = [r for r in rejections if r.reason == NOT_A_DIGIT]
    assert not_digits and all(r.box[0] >= 320 for r in not_digits)
    assert "not one digit" in not_digits[0].describe()


def test_evaluation_counts_a_non_digit_answer_as_a_miss_in_a_column_of_its_own():
    result = evaluation("t", np.array([1, 1, 2]), np.array([1, 10, 2]))
    assert result.confusion.shape == (10, 11) and result.correct == 2 and result.accuracy == pytest.approx(2 / 3)
    assert "non-digit (1)" in result.table()
    assert evaluation("t", np.array([1]), np.array([1])).confusion.shape == (10, 10)


def test_a_not_a_digit_rejection_reads_as_one_line():
    line = Rejection((5, 6, 70, 20), NOT_A_DIGIT, None, 2, 0.031).describe()
    assert line.startswith("at (5, 6), 70x20 px: not one digit") and "\n" not in line


def test_the_bundled_model_calls_an_equals_sign_no_digit_and_a_digit_a_digit(mnist_small):
    """The trained class itself (the others above use a made-up one): an = sign drawn as people write it
    after an amount, and MNIST test digits."""
    sign = np.full((90, 130), 255, np.uint8)
    cv2.line(sign, (15, 30), (115, 26), 0, 7, cv2.LINE_AA)
    cv2.line(sign, (20, 62), (112, 60), 0, 7, cv2.LINE_AA)
    recognizer = Recognizer()
    classes, _ = recognizer.classify([sign], ink="dark")
    assert classes.tolist() == [10]
    digits, _ = recognizer.classify(mnist_small["x_test"][:200], ink="bright")
    assert np.mean(digits == mnist_small["y_test"][:200]) >= 0.97 and (digits == 10).sum() <= 1
