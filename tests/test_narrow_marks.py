"""A mark narrower than any digit but a 1 is not read as another digit (recognizer.NARROW_FOR_DIGIT)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.recognition.recognizer import NARROW_FOR_DIGIT, reading_string
from device.recognition.rejections import TOO_NARROW, TRAILING_MARK
from device.recognition.runtime import TFLiteModel


class ReadsEverythingAs(TFLiteModel):
    """The bundled model's interpreter, answering one digit for every crop (what the network makes of a tick
    of the cheque's print or a fragment of a stroke, made predictable)."""

    def __init__(self, digit: int) -> None:
        self.__dict__.update(TFLiteModel().__dict__)
        self.digit = digit

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = np.zeros((len(batch), self.classes), np.float32)
        out[:, self.digit] = 0.9
        out[:, (self.digit + 1) % 10] = 0.1
        return out


def _frame_with_a_tick(mnist_small) -> np.ndarray:
    """Two MNIST digits 112 px tall, then a short curved stroke a fifth of their height wide."""
    frame = np.full((480, 640), 255, np.uint8)
    for x, label in ((100, 3), (220, 5)):
        image = mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == label)[0]]
        digit = cv2.resize(255 - image, (112, 112), interpolation=cv2.INTER_LINEAR)
        frame[150:262, x : x + 112] = np.minimum(frame[150:262, x : x + 112], digit)
    cv2.ellipse(frame, (372, 215), (14, 36), 0, -70, 70, 0, 7, cv2.LINE_AA)  # a ")" 22 px wide, 72 px tall
    return frame


def test_a_narrow_mark_read_as_a_digit_other_than_1_is_left_out_and_said_why(mnist_small):
    found, rejected = Recognizer(ReadsEverythingAs(3)).read_with_rejections(_frame_with_a_tick(mnist_small))
    assert reading_string(found) == "33"  # the two digits, not the tick
    narrow = [r for r in rejected if r.reason == TOO_NARROW]
    assert len(narrow) == 1 and narrow[0].box[0] > 340 and narrow[0].box[2] < NARROW_FOR_DIGIT * 112
    assert "too narrow" in narrow[0].describe() and "\n" not in narrow[0].describe()


def test_a_narrow_mark_read_as_a_1_stays(mnist_small):
    assert reading_string(Recognizer(ReadsEverythingAs(1)).read(_frame_with_a_tick(mnist_small))) == "111"


@pytest.mark.parametrize("digits", [[3, 1, 5], [1, 7], [4, 1, 1]])
def test_real_1s_are_still_read(mnist_small, digits):
    frame = np.full((480, 640), 255, np.uint8)
    for k, label in enumerate(digits):
        image = mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == label)[1]]
        digit = cv2.resize(255 - image, (112, 112), interpolation=cv2.INTER_LINEAR)
        x = 80 + 130 * k
        frame[150:262, x : x + 112] = np.minimum(frame[150:262, x : x + 112], digit)
    assert reading_string(Recognizer().read(frame)) == "".join(map(str, digits))


def _frame_with_a_stroke(mnist_small, stroke_x: int, stroke_height: int) -> np.ndarray:
    """A 3 and a 5, 112 px boxes, and a slanted stroke ``stroke_height`` px tall at ``stroke_x``."""
    frame = np.full((480, 640), 255, np.uint8)
    for x, label in ((100, 3), (340, 5)):
        image = mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == label)[0]]
        digit = cv2.resize(255 - image, (112, 112), interpolation=cv2.INTER_LINEAR)
        frame[150:262, x : x + 112] = np.minimum(frame[150:262, x : x + 112], digit)
    bottom = 240
    cv2.line(frame, (stroke_x, bottom), (stroke_x + stroke_height // 3, bottom - stroke_height), 0, 8, cv2.LINE_AA)
    return frame


def test_a_short_stroke_after_a_number_is_the_dash_written_after_it_not_a_1(mnist_small):
    # "2100-", "636/": people close an amount with a short stroke; the network calls it a 1 or a 7.
    found, rejected = Recognizer(ReadsEverythingAs(1)).read_with_rejections(
        _frame_with_a_stroke(mnist_small, 500, 36))
    assert reading_string(found) == "11"  # the 3 and the 5 (read as 1s by this model), not the stroke
    trailing = [r for r in rejected if r.reason == TRAILING_MARK]
    assert len(trailing) == 1 and trailing[0].box[0] > 480
    assert "after the number" in trailing[0].describe()


@pytest.mark.parametrize(("stroke_x", "height"), [(260, 36), (500, 70)])
def test_a_short_stroke_between_digits_or_a_full_height_1_after_them_is_still_read(mnist_small, stroke_x, height):
    found = Recognizer(ReadsEverythingAs(1)).read(_frame_with_a_stroke(mnist_small, stroke_x, height))
    assert reading_string(found) == "111"
