"""Cut-outs (a scanned amount field, a crop of a number) are read as a camera would see them; boxes come back."""

from __future__ import annotations

import itertools
from dataclasses import replace

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.recognition.placement import Placement, analysed_image, place_cutout
from device.recognition.recognizer import digit_height, reading_string
from device.recognition.segment import DEFAULT_PARAMS


def tight_crop(mnist: dict[str, np.ndarray], indices: list[int], height: int = 40) -> tuple[np.ndarray, list]:
    """MNIST test digits filling a crop ``height`` px high, 2 px from its top and bottom, and their boxes."""
    digits, boxes, x = [], [], 3
    for k in indices:
        d = mnist["x_test"][k]
        ys, xs = np.nonzero(d > 40)
        d = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        w = max(1, round(d.shape[1] * (height - 4) / d.shape[0]))
        digits.append(cv2.resize(d, (w, height - 4), interpolation=cv2.INTER_AREA))
        boxes.append((x, 2, w, height - 4))
        x += w + 5
    crop = np.full((height, x + 1), 225, np.uint8)
    for d, (bx, by, bw, bh) in zip(digits, boxes, strict=True):
        region = crop[by : by + bh, bx : bx + bw].astype(np.float32)
        crop[by : by + bh, bx : bx + bw] = np.clip(region * (1 - 0.85 * d / 255.0), 0, 255).astype(np.uint8)
    return crop, boxes


@pytest.mark.parametrize("height", [34, 60, 100])
def test_a_tight_crop_of_a_number_is_read_and_its_boxes_are_in_its_pixels(mnist_small, height):
    indices = [3, 5, 8, 11]
    crop, boxes = tight_crop(mnist_small, indices, height)
    found = Recognizer().read(cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR))
    assert reading_string(found) == "".join(str(int(mnist_small["y_test"][k])) for k in indices)
    for detection, (x, y, w, h) in zip(found, boxes, strict=True):
        fx, fy, fw, fh = detection.box
        assert abs(fx - x) <= 2 + w // 8 and abs(fw - w) <= 2 + w // 4
        assert abs(fy - y) <= 2 + h // 8 and abs(fh - h) <= 2 + h // 8


def test_only_images_smaller_than_a_camera_frame_are_placed():
    params = DEFAULT_PARAMS
    frame = np.full((480, 640), 200, np.uint8)
    same, placement = analysed_image(frame, params)
    assert same is frame and placement == Placement()
    assert analysed_image(np.full((239, 330), 200, np.uint8), params)[0].shape == (239, 330)  # wide enough
    large, placement = analysed_image(np.full((1500, 2000), 200, np.uint8), params)
    assert large.shape == (768, 1024) and placement.scale == pytest.approx(0.512)
    placed, placement = analysed_image(np.full((50, 150), 200, np.uint8), params)
    assert placed.shape == (480, 640) and placement.scale == 2.0


def test_placement_maps_boxes_back_into_the_cutout():
    crop = np.full((40, 120), 220, np.uint8)
    crop[10:30, 50:60] = 0
    canvas, placement = place_cutout(crop, 100)
    ys, xs = np.nonzero(canvas < 100)
    box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    assert placement.to_frame(box) == (50, 10, 10, 20)
    assert placement.to_frame((0, 0, 640, 480)) == (0, 0, 120, 40)  # clipped to the cut-out
    # Ink wholly in the repeated edge below the cut-out (it touches the scan's bottom edge) is reported on the
    # scan's last row, never as a box of no height outside it.
    below = (round(placement.offset[0] + 30 * placement.scale), round(placement.offset[1] + 45 * placement.scale), 8, 6)
    assert placement.to_frame(below) == (30, 39, round(8 / placement.scale), 1)
    assert canvas[0, 0] == 220 and canvas[240, 0] == 220  # its edges repeated outwards


@pytest.mark.parametrize("edge", ["top", "bottom", "left"])
def test_a_digit_the_scans_edge_cuts_through_is_still_read(mnist_small, edge):
    # Scans of amount fields are tight: a digit often touches the image's edge. Its ink reaches the frame's
    # border only through the cut-out's repeated edge, so it is cut at the cut-out's edge and read.
    indices = [3, 5, 8]  # without the 6 of the other tests: cut through its loop, it is another shape
    crop, _ = tight_crop(mnist_small, indices, 60)
    crop = {"top": crop[3:], "bottom": crop[:-3], "left": crop[:, 4:]}[edge]
    expected = "".join(str(int(mnist_small["y_test"][k])) for k in indices)
    assert reading_string(Recognizer().read(crop)) == expected


def test_a_chain_of_digits_the_scans_edge_cuts_is_judged_not_dropped(mnist_small):
    # "65.000": the 0s run together into one mark wider than half the scan, and the scan's edge cuts the last
    # one. It is a chain of digits, not the scanner's margin: it reaches the reader, nothing is dropped at the
    # border.
    crop, boxes = tight_crop(mnist_small, [18, 3, 10, 13], 50)  # 3, 0, 0, 0
    for a, b in itertools.pairwise(boxes[1:]):  # a pen stroke from each 0 into the next
        x0, x1 = a[0] + a[2] - 6, b[0] + 6
        cv2.ellipse(crop, ((x0 + x1) // 2, 36), ((x1 - x0) // 2, 6), 0, 0, 180, 40, 3)
    crop = crop[:, : boxes[3][0] + boxes[3][2] - 4]  # the edge cuts the last 0
    chain_width = crop.shape[1] - boxes[1][0]
    assert chain_width > 0.6 * crop.shape[1]
    found, rejected = Recognizer().read_with_rejections(crop)
    assert not [r for r in rejected if r.reason == "border"]
    assert len(found) >= 3  # the 3 and some of the 0s (what the cuts make of them is the classifier's part)


def test_the_scanners_margin_along_a_cutouts_edge_is_not_read():
    crop = np.full((60, 200), 225, np.uint8)
    crop[-6:, :] = 40  # a dark band along the whole bottom edge, as a scanner's margin
    assert Recognizer().read(crop) == []


def test_cutout_box_is_where_the_cutout_lies_at_half_resolution():
    _, placement = place_cutout(np.full((50, 150), 200, np.uint8), 100)
    x0, y0, x1, y1 = placement.cutout_half()
    assert (x1 - x0, y1 - y0) == (150, 50) and (x0 + x1) // 2 == 160 and (y0 + y1) // 2 == 120
    assert Placement().cutout_half() is None and Placement(0.5).cutout_half() is None


def test_a_scan_whose_paper_darkens_sharply_is_read_not_taken_for_the_table(mnist_small):
    """A cut-out is paper from edge to edge: a darker part of it behind a sharp step in brightness (a scanner's
    shading, a fold) is not the table beside a sheet, as it would be in a camera frame."""
    indices = [3, 5, 8, 11]
    crop, boxes = tight_crop(mnist_small, indices, 60)
    shaded = crop.astype(np.float32)
    shaded[:, boxes[0][0] - 2 :] *= 0.5  # everything right of the first digit's left edge, half as bright
    found = Recognizer().read(shaded.astype(np.uint8))
    assert reading_string(found) == "".join(str(int(mnist_small["y_test"][k])) for k in indices)


def _with_a_leading_one(crop: np.ndarray, boxes: list, top: int, bottom: int, darkness: float) -> np.ndarray:
    """``crop`` with a tall, slightly slanted 1 drawn left of its first digit, from row ``top`` to ``bottom``."""
    pad = 24
    out = np.full((crop.shape[0], crop.shape[1] + pad), 225, np.uint8)
    out[:, pad:] = crop
    ink = np.zeros(out.shape, np.float32)
    cv2.line(ink, (12, top), (9, bottom), 1.0, 4, cv2.LINE_AA)
    return np.clip(out * (1 - darkness * ink), 0, 255).astype(np.uint8)


def test_a_one_the_scans_top_edge_cuts_is_read_not_taken_for_a_ruling(mnist_small):
    # A leading 1 often runs off the top of a tight scan. The cut-out's repeated edge continues it into a dark
    # column above it, which made it "a piece of a vertical ruling" (9 of ORAND's digits, most a leading 1).
    indices = [3, 5, 8]
    crop, boxes = tight_crop(mnist_small, indices, 60)
    scan = _with_a_leading_one(crop, boxes, 0, 55, 0.85)
    expected = "1" + "".join(str(int(mnist_small["y_test"][k])) for k in indices)
    assert reading_string(Recognizer().read(scan)) == expected


def test_faint_lines_of_a_cheques_pattern_across_a_scan_are_not_ones(mnist_small):
    # The printed pattern of a cheque: thin lines from the scan's top to its bottom, much fainter than the pen.
    indices = [3, 5, 8]
    crop, boxes = tight_crop(mnist_small, indices, 60)
    scan = crop.astype(np.float32)
    for a, b in itertools.pairwise(boxes):
        x = (a[0] + a[2] + b[0]) // 2
        cv2.line(scan, (x + 3, 0), (x - 3, scan.shape[0] - 1), 225 * 0.6, 1, cv2.LINE_AA)
    expected = "".join(str(int(mnist_small["y_test"][k])) for k in indices)
    assert reading_string(Recognizer().read(scan.astype(np.uint8))) == expected


def test_a_numbers_first_digit_may_be_written_taller_than_the_rest(mnist_small):
    # Amounts often start with a big flourish of a 1 or a large first digit: up to 2.3 times the writing's
    # height (first_max_relative_height); any later mark that tall is no digit (max_relative_height, 1.7).
    indices = [3, 5, 8, 11]
    crop, boxes = tight_crop(mnist_small, indices, 40)
    canvas = np.full((100, crop.shape[1]), 225, np.uint8)
    canvas[50:90] = crop
    scan = _with_a_leading_one(canvas, boxes, 20, 90, 0.85)  # a 1 of about 75 px beside digits of 36 px
    expected = "".join(str(int(mnist_small["y_test"][k])) for k in indices)
    assert reading_string(Recognizer().read(scan)) == "1" + expected
    strict = replace(DEFAULT_PARAMS, first_max_relative_height=DEFAULT_PARAMS.max_relative_height)
    assert reading_string(Recognizer(segment_params=strict).read(scan)) == expected


def test_a_tall_mark_is_measured_against_its_own_height_when_deciding_to_cut_it():
    # A first digit written twice the line's height is as wide as a line height or more: measured against the
    # line it looked like two digits ("4839" read "41839"); measured against most of its own height it is one.
    assert digit_height((0, 0, 40, 80), 36.0) == pytest.approx(56.0)
    assert digit_height((0, 0, 70, 38), 36.0) == 36.0  # touching digits of the line's height: the line's
