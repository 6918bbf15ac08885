"""The second look at unsure digits: the same digit read at three stroke widths and two more proportions,
probabilities averaged."""

from __future__ import annotations

import numpy as np

from device import Recognizer
from device.recognition.ensemble import PROPORTIONS, UNSURE_BELOW, proportion_variants, second_look, stroke_variants


def _bar(width: int) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 14 - width // 2 : 14 - width // 2 + width] = 255
    return image


def test_variants_are_thicker_then_thinner_copies_of_each_digit():
    images = np.stack([_bar(4), _bar(6)])
    variants = stroke_variants(images)
    assert variants.shape == (4, 28, 28) and variants.dtype == np.uint8
    ink = (variants > 0).sum(axis=(1, 2))
    original = (images > 0).sum(axis=(1, 2))
    assert (ink[:2] > original).all() and (ink[2:] < original).all()  # first all thicker, then all thinner
    assert ink[0] < ink[1] and ink[2] < ink[3]  # in the order of the digits


def test_proportion_variants_are_narrower_then_wider_copies_normalised_again():
    images = np.stack([_bar(6), _bar(8)])
    variants = proportion_variants(images)
    assert variants.shape == (2 * len(PROPORTIONS), 28, 28) and variants.dtype == np.uint8
    width = (variants > 0).any(axis=1).sum(axis=1)
    original = (images > 0).any(axis=1).sum(axis=1)
    assert PROPORTIONS[0] < 1 < PROPORTIONS[1]
    assert (width[:2] < original).all() and (width[2:] > original).all()  # first all narrower, then all wider
    height = (variants > 0).any(axis=2).sum(axis=1)
    assert ((height >= 20) & (height <= 22)).all()  # each fitted to MNIST's 20-pixel box again (a soft edge)
    assert width[0] < width[1] and width[2] < width[3]  # in the order of the digits


def test_only_unsure_digits_are_read_again_and_their_five_readings_averaged():
    calls = []

    def predict(batch: np.ndarray) -> np.ndarray:  # every variant is surely a 7
        calls.append(len(batch))
        out = np.zeros((len(batch), 11), np.float32)
        out[:, 7] = 1.0
        return out

    sure, unsure = np.zeros(11, np.float32), np.zeros(11, np.float32)
    sure[3] = 0.99
    unsure[[1, 7]] = [0.5, 0.45]
    probabilities = np.stack([sure, unsure])
    images = np.stack([_bar(4), _bar(2)])
    looked = second_look(predict, images, probabilities)
    assert calls == [4]  # one inference: the unsure digit's two stroke widths and two proportions
    np.testing.assert_array_equal(looked[0], sure)
    np.testing.assert_allclose(looked[1, 7], (0.45 + 4) / 5)
    assert looked[1].argmax() == 7
    assert UNSURE_BELOW > 0.45


def test_nothing_unsure_costs_no_inference():
    probabilities = np.eye(10, dtype=np.float32)[[2, 5]]
    out = second_look(lambda batch: 1 / 0, np.zeros((2, 28, 28), np.uint8), probabilities)
    assert out is probabilities


def test_the_recognizer_reads_mnist_digits_with_the_second_look(mnist_small):
    found = Recognizer().classify(mnist_small["x_test"][:100], ink="bright")[0]
    assert np.mean(found == mnist_small["y_test"][:100]) >= 0.97


def test_the_variants_script_compares_them_on_a_digit_set(tmp_path):
    """scripts/second_look_variants.py: the figures behind the choice; sets that are not there are skipped."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "scripts" / "second_look_variants.py"),
                           "--mnist", str(root / "tests" / "data" / "mnist_subset.npz"),
                           "--usps", str(tmp_path / "none.npz"), "--orand", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr
    assert "MNIST test" in done.stdout and "as written + thicker + thinner:" in done.stdout
    assert "the second look (under 0.9" in done.stdout
    assert "USPS: skipped" in done.stdout and "ORAND dev digits: skipped" in done.stdout
