"""No frame crashes the reader: property-based tests (hypothesis) over sizes, layouts, dtypes and content.

``Recognizer.read`` takes any numeric frame (``device/recognition/frames.py`` says how each dtype is read) and
returns a list; only a frame that does not hold numbers raises, with one clear ValueError. The examples are
bounded so that the whole file runs in seconds: most frames are under 200 px, a few go to 4000x3000.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device import Recognizer
from device.recognition.frames import frame_to_uint8
from device.recognition.recognizer import reading_string

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from fuzz_read import as_frame, fuzz

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LARGE = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = ("uint8", "bool", "uint16", "int16", "int64", "float16", "float32", "float64")


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@st.composite
def frames(draw: st.DrawFn, max_height: int = 200, max_width: int = 200) -> np.ndarray:
    """A frame of any size up to the bounds (odd or even, from 1x1), channel layout, dtype and content."""
    height = draw(st.integers(1, max_height))
    width = draw(st.integers(1, max_width))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    content = draw(st.sampled_from(["noise", "flat", "digits"]))
    if content == "noise":
        gray = rng.integers(0, 256, (height, width), dtype=np.uint8)
    else:
        gray = np.full((height, width), int(rng.integers(100, 256)), np.uint8)
    if content == "digits":
        text = draw(st.text("0123456789", min_size=1, max_size=8))
        scale = draw(st.floats(0.2, 8.0))
        origin = (draw(st.integers(-20, width)), draw(st.integers(-20, height + 20)))
        cv2.putText(gray, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, int(rng.integers(0, 100)),
                    draw(st.integers(1, 12)))
    return as_frame(rng, gray, channels, dtype)


@FAST
@given(frames())
def test_any_small_frame_reads_as_a_list(recognizer, frame):
    found = recognizer.read(frame)
    assert isinstance(found, list)
    reading_string(found)


@FAST
@given(frames(max_height=700, max_width=700))
def test_any_medium_frame_reads_as_a_list_with_rejections(recognizer, frame):
    found, rejected = recognizer.read_with_rejections(frame)
    assert isinstance(found, list) and isinstance(rejected, list)
    h, w = frame.shape[:2]
    for d in found:  # boxes lie in the frame
        x, y, bw, bh = d.box
        assert x >= 0 and y >= 0 and x + bw <= w + 1 and y + bh <= h + 1


@LARGE
@given(frames(max_height=3000, max_width=4000))
def test_large_frames_up_to_4000x3000_read_as_a_list(recognizer, frame):
    assert isinstance(recognizer.read(frame), list)


@pytest.mark.parametrize("size", [(3000, 4000), (2999, 3999), (1, 4000), (3000, 1), (1, 1), (17, 17), (480, 641)])
def test_extreme_sizes_read_as_a_list(recognizer, size):
    page = np.full(size, 230, np.uint8)
    cv2.putText(page, "407", (size[1] // 4, size[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, size[0] / 200, 20,
                max(1, size[0] // 100))
    assert isinstance(recognizer.read(page), list)


@pytest.mark.parametrize("height", [479, 480, 481])
@pytest.mark.parametrize("width", [639, 640, 641])
def test_odd_and_even_sizes_read_the_same_digits(recognizer, height, width):
    """The crash of odd sizes (the half-resolution labels one pixel short) is gone, and the reading is the same."""
    page = np.full((height, width), 235, np.uint8)
    cv2.putText(page, "3507", (120, 300), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 30, 9)
    assert reading_string(recognizer.read(page)) == "3507"


def test_a_digit_against_the_last_row_and_column_of_an_odd_frame(recognizer):
    """Ink reaching the odd frame's last pixel row and column (no half-resolution label of its own)."""
    page = np.full((101, 151), 235, np.uint8)
    cv2.putText(page, "8", (112, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 20, 4)
    page[-1, :] = page[:, -1] = 235
    page[-1, 120:130] = page[80:90, -1] = 20
    assert isinstance(recognizer.read(page), list)


# --------------------------------------------------------------------------------------------
# Non-uint8 frames: converted by one rule, or one clear ValueError
# --------------------------------------------------------------------------------------------
def _scene() -> np.ndarray:
    page = np.full((480, 640), 235, np.uint8)
    cv2.putText(page, "2946", (100, 300), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 25, 9)
    return page


@pytest.mark.parametrize(
    "convert",
    [
        lambda p: p > 127,  # a mask: True white
        lambda p: p.astype(np.uint16) * 257,  # 16-bit
        lambda p: p.astype(np.int64),  # grey levels in a wide integer
        lambda p: p.astype(np.float32) / 255.0,  # fractions
        lambda p: p.astype(np.float64),  # grey levels as floats
        lambda p: np.dstack([p, p, p, np.full_like(p, 255)]),  # BGRA
    ],
    ids=["bool", "uint16", "int64", "float-fractions", "float-levels", "bgra"],
)
def test_other_dtypes_read_like_the_uint8_frame(recognizer, convert):
    assert reading_string(recognizer.read(convert(_scene()))) == "2946"


def test_frame_to_uint8_rules():
    assert frame_to_uint8(np.array([[True, False]])).tolist() == [[255, 0]]
    assert frame_to_uint8(np.array([[0, 65535, 257 * 100]], np.uint16)).tolist() == [[0, 255, 100]]
    assert frame_to_uint8(np.array([[-5, 300, 17]])).tolist() == [[0, 255, 17]]
    assert frame_to_uint8(np.array([[0.0, 0.5, 1.0]])).tolist() == [[0, 128, 255]]
    assert frame_to_uint8(np.array([[0.0, 128.0, 300.0]])).tolist() == [[0, 128, 255]]
    assert frame_to_uint8(np.array([[np.nan, np.inf, -np.inf, 0.5]])).tolist() == [[0, 255, 0, 128]]
    assert frame_to_uint8(np.full((2, 2), np.nan)).tolist() == [[0, 0], [0, 0]]
    same = np.zeros((3, 3), np.uint8)
    assert frame_to_uint8(same) is same


@pytest.mark.parametrize(
    "frame",
    [np.zeros((50, 50), np.complex64), np.full((50, 50), "a"), np.full((50, 50), None, object), None],
    ids=["complex", "strings", "objects", "none"],
)
def test_a_frame_that_is_not_numbers_is_one_clear_value_error(recognizer, frame):
    with pytest.raises(ValueError, match="a frame must hold numbers") as info:
        recognizer.read(frame)
    assert "\n" not in str(info.value)


def test_fuzzing_a_few_hundred_random_frames_raises_nothing(recognizer):
    """The short version of ``scripts/fuzz_read.py`` (10,000 frames there)."""
    assert fuzz(recognizer, frames=150, seed=12, max_side=4000, progress=False) == []


def test_three_looks_at_random_frames_raise_nothing():
    """The same with the looks of ``device read`` (recognition/views.py): a region cut from any frame is read
    twice more, and those reads must not crash either (``scripts/fuzz_read.py --looks 3``)."""
    from device.recognition.options import ReadOptions
    from device.recognition.recognizer import Recognizer

    assert fuzz(Recognizer(options=ReadOptions(looks=3)), frames=80, seed=5, max_side=2000, progress=False) == []
