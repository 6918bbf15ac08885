"""Small images (scans of a number field, digit crops) are read like camera frames, boxes in their own pixels."""

from __future__ import annotations

import cv2
import numpy as np

from device import Recognizer
from device.recognition.framing import SMALL_SIDE, Framing, frame_for_reading
from device.recognition.recognizer import reading_string


def scan_of(text: str, height: int = 40) -> np.ndarray:
    """A tight scan of a handwritten-looking number: the ink runs to the image's edges."""
    page = np.full((120, 60 * len(text) + 40, 3), 230, np.uint8)
    for i, digit in enumerate(text):
        cv2.putText(page, digit, (20 + 60 * i, 100), cv2.FONT_HERSHEY_SIMPLEX, 3.0, (30, 30, 30), 9)
    ink = np.flatnonzero((page[..., 0] < 128).any(axis=1))
    cols = np.flatnonzero((page[..., 0] < 128).any(axis=0))
    tight = page[ink[0] : ink[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.resize(tight, (round(tight.shape[1] * height / tight.shape[0]), height), interpolation=cv2.INTER_AREA)


def test_camera_frames_are_read_as_they_are() -> None:
    frame = np.zeros((480, 640), np.uint8)
    same, framing = frame_for_reading(frame)
    assert same is frame and framing == Framing()


def test_a_small_image_is_scaled_up_with_a_margin_of_its_paper() -> None:
    scan = scan_of("305")
    framed, framing = frame_for_reading(scan)
    assert framing.scale > 1 and framing.offset[0] > 0
    assert framed.shape[0] > scan.shape[0] * framing.scale
    assert tuple(framed[0, 0]) == (230, 230, 230)  # the margin is the scan's own paper colour
    box = (framing.offset[0], framing.offset[1], round(10 * framing.scale), round(20 * framing.scale))
    assert framing.to_image(box) == (0, 0, 10, 20)
    assert framing.to_image((0, 0, 5, 5)) == (0, 0, 1, 1)  # in the margin: clipped to the image
    assert max(scan.shape[:2]) < SMALL_SIDE


def test_a_tight_scan_reads_with_boxes_inside_it() -> None:
    recognizer = Recognizer()
    scan = scan_of("4071")
    found = recognizer.read(scan)
    assert reading_string(found) == "4071"
    h, w = scan.shape[:2]
    for d in found:
        x, y, bw, bh = d.box
        assert x >= -2 and y >= -2 and x + bw <= w + 2 and y + bh <= h + 2
