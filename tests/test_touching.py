"""Touching digits: one mark holding two digits is cut where the network reads the pieces best."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from device import ReadOptions, Recognizer
from device.recognition.recognizer import reading_string
from device.recognition.segment import segment
from device.recognition.touching import cuttings, perhaps_two, piece_counts


def draw(mnist: dict[str, np.ndarray], groups: list[tuple[int, ...]], overlap: int, height: int = 60) -> np.ndarray:
    """A 640x480 page with groups of MNIST test digits (the first of each label): the digits of a group
    ``overlap`` px into each other, groups 25 px apart."""
    page = np.full((480, 640), 235, np.uint8)
    x, top = 60, 200
    for group in groups:
        for label in group:
            digit = mnist["x_test"][int(np.flatnonzero(mnist["y_test"] == label)[0])]
            ys, xs = np.nonzero(digit > 40)
            digit = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            width = max(1, round(digit.shape[1] * height / digit.shape[0]))
            ink = cv2.resize(digit, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
            region = page[top : top + height, x : x + width]
            page[top : top + height, x : x + width] = np.minimum(region, np.clip(235 * (1 - 0.85 * ink), 0, 255))
            x += width - overlap
        x += overlap + 25
    return page


def touching_pair(mnist: dict[str, np.ndarray], first: int, second: int, overlap: int) -> np.ndarray:
    """Two digits ``overlap`` px into each other, alone on the page."""
    return draw(mnist, [(first, second)], overlap)


@pytest.mark.parametrize("pair, overlap", [((6, 8), 5), ((6, 8), 8), ((3, 8), 5), ((3, 8), 8), ((2, 2), 5)])
def test_two_touching_digits_too_wide_for_one_are_read_as_two(mnist_small, pair, overlap):
    page = draw(mnist_small, [(2,), pair, (5,)], overlap)
    wide: list = []
    assert len(segment(page, wide=wide)) == 2 and len(wide) == 1  # the pair is one mark, too wide for a digit
    assert reading_string(Recognizer().read(page)) == f"2{pair[0]}{pair[1]}5"


@pytest.mark.parametrize("first, second, overlap", [(4, 7, 2), (4, 7, 5), (0, 2, 5), (7, 4, 2)])
def test_split_wide_digits_also_cuts_a_digit_wider_than_tall(mnist_small, first, second, overlap):
    page = touching_pair(mnist_small, first, second, overlap)
    assert len(segment(page)) == 1  # one mark, not too wide for one digit: read as one by default
    assert len(Recognizer().read(page)) == 1
    split = Recognizer(options=ReadOptions(split_wide_digits=True))
    assert reading_string(split.read(page)) == f"{first}{second}"


def test_a_wide_mark_alone_is_still_too_wide(mnist_small):
    """Only marks as tall as digits found beside them are tried as touching digits: a flat loop alone is not."""
    page = np.full((480, 640), 235, np.uint8)
    cv2.ellipse(page, (300, 240), (70, 25), 0, 0, 360, 20, 6)
    found, rejected = Recognizer().read_with_rejections(page)
    assert found == [] and [r.reason for r in rejected] == ["too wide"]


def test_piece_counts_follow_the_width():
    assert list(piece_counts(60, 60)) == [2, 3]
    assert list(piece_counts(100, 60)) == [2, 3, 4]
    assert list(piece_counts(240, 60)) == [4]


def test_cuttings_cut_at_the_thinnest_join():
    crop = np.full((40, 80), 255, np.uint8)
    cv2.circle(crop, (20, 20), 14, 0, 3)
    cv2.circle(crop, (58, 20), 14, 0, 3)
    crop[19:21, 30:48] = 0  # a thin bridge between two rings
    pieces = [c for c in cuttings(crop, range(2, 3))]
    assert pieces and all(len(c.pieces) == 2 for c in pieces)
    x, _, w, _ = pieces[0].boxes[0]
    assert 33 <= x + w <= 45  # the cut lies in the bridge, between the rings


def test_perhaps_two_picks_the_digit_twice_as_wide_as_its_line():
    @dataclass
    class Seg:
        box: tuple[int, int, int, int]
        line: int = 0

    line = [Seg((0, 0, 30, 60)), Seg((40, 0, 32, 60)), Seg((80, 0, 66, 60)), Seg((150, 0, 28, 60))]
    assert perhaps_two(line) == [2]
    assert perhaps_two([Seg((0, 0, 70, 60))]) == []  # alone, only a little wider than tall
    assert perhaps_two([Seg((0, 0, 90, 60))]) == [0]
