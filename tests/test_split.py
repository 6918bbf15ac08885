"""Touching digits: a mark wider than one digit is cut where the classifier reads the digits best."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from device import Recognizer
from device.recognition.recognizer import reading_string
from device.recognition.split import cut_candidates, find_loops, needs_split, split_mark, with_loops


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def touching(digits: list[np.ndarray], overlap: int = 6) -> np.ndarray:
    """MNIST digits (bright on black) side by side, each overlapping the previous by ``overlap`` px, as dark
    ink on white: one connected mark when the strokes meet."""
    trimmed = []
    for d in digits:
        cols = np.flatnonzero(d.max(axis=0) > 40)
        trimmed.append(d[:, cols[0] : cols[-1] + 1])
    width = sum(t.shape[1] for t in trimmed) - overlap * (len(trimmed) - 1)
    ink = np.zeros((28, width), np.uint8)
    x = 0
    for t in trimmed:
        ink[:, x : x + t.shape[1]] = np.maximum(ink[:, x : x + t.shape[1]], t)
        x += t.shape[1] - overlap
    big = np.kron(255 - ink, np.ones((4, 4), np.uint8))  # 112 px tall: a digit as a camera sees it
    return np.pad(big, 20, constant_values=255)


def first_of(mnist_small, digit: int, skip: int = 0) -> np.ndarray:
    return mnist_small["x_test"][np.flatnonzero(mnist_small["y_test"] == digit)[skip]]


def test_a_clearly_single_wide_digit_is_not_cut() -> None:
    assert not needs_split(1.8, 0.99)  # some writers' 2 is this wide
    assert needs_split(1.3, 0.6)  # wide and not surely one digit
    assert needs_split(2.5, 1.0)  # wider than any digit
    assert not needs_split(0.7, 0.3)  # narrow: one digit, maybe unsure


def test_cuts_are_found_between_touching_digits(mnist_small) -> None:
    mark = touching([first_of(mnist_small, 3), first_of(mnist_small, 2)])
    cuts = cut_candidates(mark, height=112)
    ink_cols = np.flatnonzero((mark < 160).any(axis=0))
    middle = (ink_cols[0] + ink_cols[-1]) / 2
    assert cuts and min(abs(c - middle) for c in cuts) < 0.25 * 112


def test_most_touching_pairs_are_read_as_their_two_digits(recognizer: Recognizer, mnist_small) -> None:
    """All 100 ordered pairs of MNIST test digits, touching: a regression guard for the cut search (64 of 100
    when it was written, 95 before loops, 92 with loops closed by faint ink; the classifier alone reads about
    99 of 100 separate digits)."""

    def classify(crops):
        return recognizer.classify(crops, ink="dark")[1]

    right = 0
    for first in range(10):
        for second in range(10):
            mark = touching([first_of(mnist_small, first, skip=3), first_of(mnist_small, second, skip=4)], overlap=1)
            rows = np.flatnonzero((mark < 160).any(axis=1))
            pieces = split_mark(mark, height=float(rows[-1] - rows[0] + 1), classify=classify)
            right += [p.digit for p in pieces] == [first, second]
            assert all(0 <= p.x0 < p.x1 <= mark.shape[1] for p in pieces)
            for a, b in itertools.pairwise(pieces):  # in order; they share ink only where two loops' rings meet
                assert a.x0 < b.x0 and (a.ink & b.ink).sum() <= min(a.ink.sum(), b.ink.sum()) / 3
    assert right >= 55


def test_read_cuts_a_touching_number_in_a_frame(recognizer: Recognizer, mnist_small) -> None:
    mark = touching([first_of(mnist_small, d, skip=1) for d in (2, 0, 0)], overlap=1)
    frame = np.full((480, 640), 255, np.uint8)
    frame[150 : 150 + mark.shape[0], 100 : 100 + mark.shape[1]] = mark
    assert len(recognizer.read(frame, min_confidence=0.0)) >= 2  # one wide mark, more than one digit
    found = recognizer.read(frame)
    assert reading_string(found) == "200"
    xs = [d.box[0] for d in found]
    assert xs == sorted(xs) and all(100 <= d.box[0] < 100 + mark.shape[1] for d in found)


def test_an_empty_or_blank_mark_gives_no_pieces(recognizer: Recognizer) -> None:
    blank = np.full((60, 200), 255, np.uint8)
    assert split_mark(blank, 50, lambda crops: np.zeros((len(crops), 10))) == []


def test_a_mark_the_model_calls_no_digit_is_cut_when_wide_enough_for_two() -> None:
    assert needs_split(0.7, 0.2, non_digit=0.75)  # "10" touching: narrower than most single digits
    assert not needs_split(0.7, 0.8, non_digit=0.15)  # one digit, and the model agrees
    assert not needs_split(0.45, 0.2, non_digit=0.75)  # too narrow for two digits: a mark, dropped later
    assert not needs_split(0.7, 0.3)  # a ten-class model says nothing of the kind


def test_cut_search_reads_digits_and_keeps_the_non_digit_probability(mnist_small) -> None:
    """With an eleven-class model, pieces are read among the ten digits; the non-digit column is kept."""
    mark = touching([first_of(mnist_small, 3), first_of(mnist_small, 2)])
    rows = np.flatnonzero((mark < 160).any(axis=1))

    def classify(crops):  # a piece narrower than tall is a 3; anything wider is no digit (an 8 at best)
        out = np.full((len(crops), 11), 0.01)
        for i, crop in enumerate(crops):
            cols = np.flatnonzero((crop < 160).any(axis=0))
            wide = cols[-1] - cols[0] > 0.9 * (rows[-1] - rows[0])
            out[i, 10 if wide else 3] = 0.9
            out[i, 8] = 0.05 if wide else 0.01
        return out

    pieces = split_mark(mark, height=float(rows[-1] - rows[0] + 1), classify=classify)
    assert [p.digit for p in pieces] == [3, 3]  # cut in two, each read among the ten digits
    assert all(p.non_digit == pytest.approx(0.01) for p in pieces)


def test_a_wide_single_digit_is_judged_among_the_digits() -> None:
    """An eleven-class model gives a wide 4 a little non-digit probability: it stays one digit when it is
    sure which digit it is, as a ten-class model's 0.98 would."""
    assert not needs_split(1.3, 0.90, non_digit=0.08)
    assert needs_split(1.3, 0.90, non_digit=0.0)


def overlapping_zeros(step: int, tilt: float, pen: int = 4, ink: int = 40) -> np.ndarray:
    """"000" as a cheque's amount often has it: three ellipses, each reaching into the next, on a 640x480 page."""
    page = np.full((480, 640), 235, np.uint8)
    for k in range(3):
        cv2.ellipse(page, (250 + k * step, 240), (24, 34), tilt, 0, 360, ink, pen, cv2.LINE_AA)
    return page


@pytest.mark.parametrize(("step", "tilt"), [(42, -20), (44, 0), (46, 15), (48, 0)])
def test_overlapping_zeros_come_apart_as_whole_zeros(recognizer: Recognizer, step: int, tilt: float) -> None:
    """Cut paths alone slice such a chain into a "C", an "a" and a "ɔ" (read 120, 607, 030, 002 before loops
    were kept whole); each piece now takes the whole ring around its hole."""
    assert reading_string(recognizer.read(overlapping_zeros(step, tilt))) == "000"


@pytest.mark.parametrize(("step", "tilt", "pen", "ink"), [(44, 0, 1, 40), (46, 15, 1, 40), (46, 15, 1, 90),
                                                          (42, -20, 2, 90), (44, 0, 2, 90)])
def test_zeros_of_a_fine_or_faint_pen_close_their_loops(
    recognizer: Recognizer, step: int, tilt: float, pen: int, ink: int
) -> None:
    """At the cut search's working height a 1-pixel or grey stroke is lighter than INK_LEVEL in places; its
    loops are found with the lighter LOOP_INK_LEVEL (read 021, 120, 02, 650, 00 without)."""
    assert reading_string(recognizer.read(overlapping_zeros(step, tilt, pen, ink))) == "000"


def test_a_run_takes_the_whole_ring_of_its_loop_and_none_of_the_next() -> None:
    ink = overlapping_zeros(44, 0) < 160
    loops = find_loops(ink, height=68.0)
    assert len(loops) == 3  # the three holes; the small lenses where two rings overlap are not loops
    left, middle, _ = sorted(loops, key=lambda loop: np.flatnonzero(loop.hole.any(axis=0))[0])
    xs = np.arange(ink.shape[1])[None, :]
    right_edge = int(np.flatnonzero(left.hole.any(axis=0))[-1])  # the cut runs down the left hole's right rim
    between = np.broadcast_to((xs >= 200) & (xs < right_edge + 1), ink.shape)
    own = with_loops(ink & between, between, loops)
    assert not (left.ring & ~own).any(), "the left 0's whole ring, also where it reaches past the cut"
    assert not (own & middle.ring & ~left.ring).any(), "none of the middle 0's ring"


def test_a_long_run_of_touching_digits_gets_cuts_all_along(mnist_small) -> None:
    """Six touching digits, nearly four heights wide: there are candidate cuts within every digit's width of
    each other, to its right end too (a fixed budget of ten spent them all on the left: "36006" read "36")."""
    mark = touching([first_of(mnist_small, d, skip=2) for d in (3, 6, 0, 0, 6, 8)], overlap=2)
    rows = np.flatnonzero((mark < 160).any(axis=1))
    height = float(rows[-1] - rows[0] + 1)
    cols = np.flatnonzero((mark < 160).any(axis=0))
    assert (cols[-1] - cols[0]) / height > 3.5
    edges = [int(cols[0]), *cut_candidates(mark, height), int(cols[-1]) + 1]
    assert max(np.diff(edges)) / height < 0.5
