"""Small digits: 12 px and taller in a 640x480 frame are found, even a few pixels apart; a dash still is not a digit.

At half resolution, and after the weak mask's closing, digits 2-3 px apart run together into one mark too wide
for a digit; the segmentation cuts such a mark where a column holds none of its certain ink.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.recognition.recognizer import reading_string
from device.recognition.rejections import TOO_WIDE, why_empty


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def mnist_string(mnist: dict[str, np.ndarray], indices: list[int], height: int, gap: int) -> np.ndarray:
    """A 640x480 page with MNIST test digits ``height`` px tall (ink box), ``gap`` px apart."""
    page = np.full((480, 640), 235, np.uint8)
    x = 150
    for k in indices:
        digit = mnist["x_test"][k]
        ys, xs = np.nonzero(digit > 40)
        digit = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        width = max(1, round(digit.shape[1] * height / digit.shape[0]))
        ink = cv2.resize(digit, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        region = page[220 : 220 + height, x : x + width].astype(np.float32)
        page[220 : 220 + height, x : x + width] = np.clip(region * (1 - 0.85 * ink), 0, 255).astype(np.uint8)
        x += width + gap
    return page


@pytest.mark.parametrize("scale", [0.6, 0.7, 0.8, 0.9])
def test_a_17_px_number_on_a_white_page_is_read(recognizer, scale):
    """The issue's case: cv2.putText 58203 at scale ~0.7, thickness 2 (12 to 19 px tall), used to read as nothing."""
    page = np.full((480, 640, 3), 255, np.uint8)
    cv2.putText(page, "58203", (250, 240), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2)
    assert reading_string(recognizer.read(page)) == "58203"


@pytest.mark.parametrize("height", [12, 14, 17, 20])
@pytest.mark.parametrize("gap", [2, 3, 6])
def test_small_handwritten_digits_close_together_are_read(recognizer, mnist_small, height, gap):
    indices = list(range(20, 28))
    truth = "".join(str(int(mnist_small["y_test"][k])) for k in indices)
    assert reading_string(recognizer.read(mnist_string(mnist_small, indices, height, gap))) == truth


def test_a_dash_is_still_too_wide_for_a_digit(recognizer):
    page = np.full((480, 640), 235, np.uint8)
    cv2.line(page, (250, 240), (350, 240), 20, 14)  # a marker stroke: 14 px high, 7 times as wide
    found, rejected = recognizer.read_with_rejections(page)
    assert found == []
    assert [r.reason for r in rejected] == [TOO_WIDE]
    assert why_empty(rejected).startswith("ink found but every mark too wide for one digit")


def test_digits_below_12_px_are_still_too_small_and_say_so(recognizer):
    page = np.full((480, 640), 235, np.uint8)
    cv2.putText(page, "4 0 7", (250, 240), cv2.FONT_HERSHEY_SIMPLEX, 0.3, 20, 1)
    found, rejected = recognizer.read_with_rejections(page)
    assert found == [] and why_empty(rejected).startswith("ink found but every mark too small")
