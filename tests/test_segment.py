"""Segmentation: generated camera scenes, synthetic layouts, and frames that must not break it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device.recognition.segment import Segment, segment
from train import scenes


def paper_with_digits(
    digits: list[np.ndarray],
    positions: list[tuple[int, int]],
    height: int = 60,
    size: tuple[int, int] = (640, 480),
    page: np.ndarray | None = None,
) -> np.ndarray:
    """Paper (white, or ``page``) with MNIST digits drawn as dark ink, ``height`` px tall, at top-lefts."""
    w, h = size
    page = np.full((h, w), 235, np.uint8) if page is None else page.copy()
    for digit, (x, y) in zip(digits, positions, strict=True):
        big = cv2.resize(digit, (height, height), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
        region = page[y : y + height, x : x + height].astype(np.float32)
        page[y : y + height, x : x + height] = np.clip(region * (1 - 0.85 * big), 0, 255).astype(np.uint8)
    return page


def centre_inside(segment_box: tuple[int, int, int, int], truth_box: list[int]) -> bool:
    x, y, w, h = segment_box
    bx, by, bw, bh = truth_box
    return bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh


def test_generated_scenes_are_segmented_into_their_digits_line_by_line(mnist_small):
    images, labels = mnist_small["x_test"], mnist_small["y_test"]
    pool = np.arange(len(images))
    settings = scenes.SceneSettings()
    right = 0
    count = 16
    for index in range(count):
        jpeg, truth = scenes.make_scene(11, index, (640, 480), images, labels, pool, settings)
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        found = segment(frame)
        per_line = [sum(1 for s in found if s.line == k) for k in range(len(truth["lines"]))]
        same = per_line == [len(t) for t in truth["lines"]] and len(found) == len(truth["digits"])
        if same and all(centre_inside(s.box, d["box"]) for s, d in zip(found, truth["digits"], strict=True)):
            right += 1
    assert right >= count - 2, f"only {right} of {count} scenes segmented exactly"


def test_digits_come_in_reading_order_with_line_numbers(mnist_small):
    digits = list(mnist_small["x_test"][:5])
    positions = [(60, 80), (160, 85), (260, 78), (120, 260), (240, 255)]  # 3 on top, 2 below
    found = segment(paper_with_digits(digits, positions))
    assert [s.line for s in found] == [0, 0, 0, 1, 1]
    xs_top = [s.box[0] for s in found[:3]]
    xs_bottom = [s.box[0] for s in found[3:]]
    assert xs_top == sorted(xs_top) and xs_bottom == sorted(xs_bottom)
    assert found[0].box[0] < 120 < found[2].box[0]


def test_crops_are_dark_ink_on_white_with_only_the_digit(mnist_small):
    found = segment(paper_with_digits(list(mnist_small["x_test"][:2]), [(100, 100), (300, 100)]))
    assert len(found) == 2
    for s in found:
        assert isinstance(s, Segment) and s.crop.dtype == np.uint8 and s.crop.ndim == 2
        border = np.concatenate([s.crop[0], s.crop[-1], s.crop[:, 0], s.crop[:, -1]])
        assert border.min() == 255  # the margin is paper
        assert s.crop.min() < 100  # and there is ink


def test_ruled_lines_and_margin_are_not_digits_but_digits_on_them_are(mnist_small):
    ruled = np.full((480, 640), 235, np.uint8)
    for y in range(40, 480, 35):  # light blue rulings, one through the middle of the digits
        cv2.line(ruled, (0, y), (639, y), 165, 2)
    cv2.line(ruled, (50, 0), (50, 479), 120, 2)  # the margin
    assert segment(ruled) == []
    # The ink lies on top of the rulings.
    page = paper_with_digits(list(mnist_small["x_test"][:3]), [(100, 150), (220, 150), (340, 150)], page=ruled)
    found = segment(page)
    assert len(found) == 3
    assert all(s.box[1] < 180 < s.box[1] + s.box[3] for s in found)  # not cut at the ruling


@pytest.mark.parametrize("ruled", [False, True])
def test_a_seven_whose_bar_is_as_long_as_a_ruling_keeps_its_bar(ruled):
    # The bar (145 px, 10 px thick) runs farther than the ruling detector's kernel; it used to be
    # removed as a ruling, leaving a "1".
    page = np.full((480, 640), 235, np.uint8)
    if ruled:
        for y in range(40, 480, 35):
            cv2.line(page, (0, y), (639, y), 165, 2)
    cv2.line(page, (200, 180), (345, 186), 40, 10)
    cv2.line(page, (345, 186), (290, 300), 40, 10)
    found = segment(page)
    assert len(found) == 1
    x, y, w, _ = found[0].box
    assert x <= 200 and y <= 180 and w >= 145


def test_a_piece_of_the_margin_is_not_a_one_but_a_one_written_on_the_margin_is():
    page = np.full((480, 640), 235, np.uint8)
    cv2.line(page, (60, 0), (60, 479), 150, 2)  # the margin ...
    cv2.line(page, (60, 100), (60, 170), 118, 3)  # ... with a darker stretch that survives its removal
    cv2.line(page, (62, 300), (58, 370), 30, 6)  # a "1" written on the margin
    cv2.ellipse(page, (200, 335), (22, 34), 0, 0, 360, 30, 6)  # and an "0" beside it
    found = segment(page)
    assert len(found) == 2
    assert all(s.box[1] > 250 for s in found)
    assert found[0].box[0] < 70


def test_marks_on_the_table_beside_the_sheet_are_not_digits(mnist_small):
    # A sheet (tilted quadrilateral) on a darker, textured table; a digit-sized dark mark lies on the
    # table a few digit widths from the writing, another in a line of its own.
    rng = np.random.default_rng(1)
    table = cv2.GaussianBlur(rng.normal(165, 25, (480, 640)).astype(np.float32), (0, 0), 3)
    frame = np.clip(table, 0, 255).astype(np.uint8)
    sheet = np.array([[150, 40], [630, 60], [615, 470], [140, 455]], np.int32)
    cv2.fillConvexPoly(frame, sheet, 232)
    frame = paper_with_digits(list(mnist_small["x_test"][:3]), [(250, 200), (330, 200), (410, 200)], page=frame)
    cv2.ellipse(frame, (60, 230), (12, 26), 0, 0, 360, 40, 5)  # an "0" drawn on the table
    cv2.line(frame, (90, 60), (92, 110), 35, 5)  # a "1"
    found = segment(frame)
    assert [s.box[0] for s in found] == sorted(s.box[0] for s in found)
    assert len(found) == 3
    assert all(s.box[0] > 200 for s in found)


def test_a_soft_shadow_across_the_page_is_not_taken_for_the_table(mnist_small):
    # Paper fills the frame; its left half lies in a soft shadow, with writing in it.
    x = np.arange(640, dtype=np.float32)
    light = 0.45 + 0.55 / (1 + np.exp(-(x - 320) / 40))
    page = np.clip(np.tile(235 * light, (480, 1)), 0, 255).astype(np.uint8)
    positions = [(60, 200), (140, 200), (420, 200), (500, 200)]
    page = paper_with_digits(list(mnist_small["x_test"][:4]), positions, page=page)
    assert len(segment(page)) == 4


def test_a_digit_broken_in_two_is_one_digit():
    page = np.full((480, 640), 235, np.uint8)
    cv2.line(page, (300, 200), (340, 200), 30, 6)  # a 5's detached bar ...
    cv2.ellipse(page, (310, 250), (28, 30), 0, -120, 160, 30, 6)  # ... above its body
    cv2.line(page, (288, 228), (292, 206), 30, 6)
    found = segment(page)
    assert len(found) == 1
    _, y, _, h = found[0].box
    assert y <= 200 and y + h >= 275


def test_a_thin_one_is_kept_and_specks_are_not(mnist_small):
    page = paper_with_digits([mnist_small["x_test"][0]], [(200, 200)])
    cv2.line(page, (400, 205), (404, 255), 30, 3)  # a thin "1" as tall as the digit
    rng = np.random.default_rng(0)
    for _ in range(30):  # specks of dirt
        cv2.circle(page, (int(rng.integers(20, 620)), int(rng.integers(20, 120))), 1, 40, -1)
    found = segment(page)
    assert len(found) == 2
    assert found[1].box[2] < 12  # the thin one


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((480, 640), np.uint8),
        np.full((480, 640), 255, np.uint8),
        np.full((480, 640, 3), 128, np.uint8),
        np.zeros((0, 0), np.uint8),
        np.zeros((5, 5), np.uint8),
        np.zeros((8, 2000), np.uint8),
        np.zeros((640,), np.uint8),
        np.zeros((100, 100, 7), np.uint8),
        np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),
        np.random.default_rng(1).random((240, 320)).astype(np.float32),
        np.zeros((480, 640, 4), np.uint8),
    ],
    ids=["black", "white", "grey", "empty", "tiny", "sliver", "1-d", "7-channels", "noise", "float", "bgra"],
)
def test_odd_frames_give_a_list_and_never_raise(frame):
    found = segment(frame)
    assert isinstance(found, list)
    assert len(found) <= 40


@pytest.mark.parametrize("value", [0, 255, 128])
def test_flat_frames_have_no_digits(value):
    assert segment(np.full((480, 640), value, np.uint8)) == []


def test_marks_much_fainter_than_the_writing_are_left_out_but_a_lighter_digit_is_not(mnist_small):
    # One pen writes a number: a stroke far fainter than the digits beside it is print or an edge (a cheque's
    # pattern, a shadow), while a digit written with less pressure is still writing.
    digits = [mnist_small["x_test"][k] for k in (3, 5, 8, 11)]
    page = paper_with_digits(digits[:3], [(100, 200), (170, 200), (240, 200)])
    light = paper_with_digits([digits[3]], [(310, 200)])  # the fourth digit, at three quarters of the ink
    page = np.where(light < 235, (235 - 0.75 * (235 - light.astype(np.float32))).astype(np.uint8), page)
    cv2.line(page, (420, 195), (415, 262), int(235 * (1 - 0.35 * 0.85)), 4)  # a faint upright stroke
    rejected: list = []
    found = segment(page, rejections=rejected)
    assert [s.box[0] // 10 for s in found] == pytest.approx([s // 10 for s in (100, 170, 240, 310)], abs=2)
    assert [r.reason for r in rejected if r.box[0] > 400] == ["fainter than the writing"]


def test_a_hairline_beside_the_writing_is_left_out_but_a_thinner_digit_is_not(mnist_small):
    # A slip of paper's or a scan's edge, a printed rule: as dark as the pen but a hairline beside its strokes.
    digits = [mnist_small["x_test"][k] for k in (3, 5, 8, 11)]
    page = paper_with_digits(digits[:3], [(100, 200), (170, 200), (240, 200)])
    thin = cv2.erode(cv2.resize(digits[3], (60, 60), interpolation=cv2.INTER_CUBIC), np.ones((2, 2), np.uint8))
    page[200:260, 310:370] = np.minimum(page[200:260, 310:370], 235 - (0.85 * 235 / 255 * thin).astype(np.uint8))
    cv2.line(page, (420, 195), (420, 262), 35, 1)  # a dark hairline, upright
    rejected: list = []
    found = segment(page, rejections=rejected)
    assert [s.box[0] // 10 for s in found] == pytest.approx([s // 10 for s in (100, 170, 240, 310)], abs=2)
    assert [r.reason for r in rejected if r.box[0] > 400] == ["thinner than the writing"]
