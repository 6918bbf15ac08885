"""A mark narrower than any digit but a 1 is not read as another digit (recognizer.NARROW_FOR_DIGIT)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.recognition.recognizer import NARROW_FOR_DIGIT, reading_string
from device.recognition.rejections import TOO_NARROW
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
