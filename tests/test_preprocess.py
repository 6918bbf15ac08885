"""The one preprocessing: the paper's steps and MNIST-style normalisation of any crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device.recognition.preprocess import (
    IMAGE_SIZE,
    bilinear_enhance,
    binarize_mean,
    ink_is_dark,
    normalize_digit,
    normalize_digits,
    paper_preprocess,
    prepare_crops,
    prepare_mnist,
)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    m = cv2.moments(image.astype(np.float32))
    return m["m01"] / m["m00"], m["m10"] / m["m00"]


def test_threshold_is_the_image_mean():
    image = np.array([[0, 10, 20], [30, 40, 50], [60, 70, 80]], np.uint8)  # mean 40
    expected = (image >= 40).astype(np.float32)
    np.testing.assert_array_equal(binarize_mean(image), expected)


def test_threshold_is_per_image_in_a_batch():
    dim = np.full((2, 2), 10, np.uint8)
    dim[0, 0] = 30  # mean 15
    bright = dim * 3  # mean 45
    out = binarize_mean(np.stack([dim, bright]))
    np.testing.assert_array_equal(out[0], out[1])
    assert out[0].sum() == 1


def test_paper_preprocess_shape_range_and_dtype(mnist_small):
    out = paper_preprocess(mnist_small["x_test"][:300])
    assert out.shape == (300, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # The bilinear round trip softens edges: values strictly between 0 and 1 appear.
    assert np.any((out > 0.05) & (out < 0.95))


def test_enhance_matches_two_bilinear_resizes_of_one_image():
    rng = np.random.default_rng(0)
    binary = (rng.random((28, 28)) > 0.7).astype(np.float32)
    manual = cv2.resize(cv2.resize(binary, (25, 25), interpolation=cv2.INTER_LINEAR), (28, 28),
                        interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(bilinear_enhance(binary), np.clip(manual, 0, 1), atol=1e-6)


def test_batched_enhance_equals_one_by_one_across_channel_chunks():
    rng = np.random.default_rng(1)
    batch = (rng.random((300, 28, 28)) > 0.6).astype(np.float32)  # > 128: several OpenCV chunks
    one_by_one = np.stack([bilinear_enhance(image) for image in batch])
    np.testing.assert_allclose(bilinear_enhance(batch), one_by_one, atol=1e-5)


@pytest.mark.parametrize("value", [0, 255])
def test_blank_and_all_ink_images_give_zeros(value):
    flat = np.full((28, 28), value, np.uint8)
    assert paper_preprocess(flat).max() == 0.0
    assert normalize_digit(flat).max() == 0
    assert prepare_crops([flat]).shape == (1, 28, 28, 1)


def test_paper_preprocess_rejects_wrong_size():
    with pytest.raises(ValueError, match="28x28"):
        paper_preprocess(np.zeros((2, 32, 32), np.uint8))


def test_prepare_mnist_is_the_network_input(mnist_small):
    batch = prepare_mnist(mnist_small["x_test"][:5])
    assert batch.shape == (5, 28, 28, 1) and batch.dtype == np.float32


def dark_ink_photo(digit: np.ndarray, scale: int = 4, paper: int = 210, ink: int = 40) -> np.ndarray:
    """A 28x28 bright-ink digit drawn as dark ink on light paper, bigger, with a margin."""
    big = cv2.resize(digit, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    photo = paper - (paper - ink) * big
    return np.pad(photo, 30, constant_values=paper).astype(np.uint8)


def test_both_polarities_normalise_alike(mnist_small):
    digit = mnist_small["x_test"][0]
    photo = dark_ink_photo(digit)
    assert ink_is_dark(photo) and not ink_is_dark(digit)
    from_dark = normalize_digit(photo, ink="auto")
    from_bright = normalize_digit(255 - photo, ink="auto")
    np.testing.assert_array_equal(from_dark, from_bright)
    np.testing.assert_array_equal(normalize_digit(photo, ink="dark"), from_dark)


def test_normalised_photo_looks_like_the_mnist_original(mnist_small):
    for digit in mnist_small["x_test"][:20]:
        normalised = normalize_digit(dark_ink_photo(digit)).astype(np.float32) / 255
        original = digit.astype(np.float32) / 255
        # Same digit, same place: strongly correlated pixels.
        assert np.corrcoef(normalised.ravel(), original.ravel())[0, 1] > 0.85


def test_centre_of_mass_is_where_mnist_has_it():
    crop = np.full((120, 90), 230, np.uint8)
    cv2.circle(crop, (30, 40), 18, 20, thickness=7)  # an off-centre "0"
    cv2.line(crop, (60, 20), (70, 100), 20, thickness=6)
    out = normalize_digit(crop)
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14.0) < 0.5 and abs(cx - 14.0) < 0.5


def test_digit_fits_in_20x20_box():
    crop = np.full((200, 200), 240, np.uint8)
    cv2.rectangle(crop, (20, 60), (180, 140), 10, thickness=-1)
    out = normalize_digit(crop)
    rows = np.flatnonzero(out.max(axis=1) > 60)
    cols = np.flatnonzero(out.max(axis=0) > 60)
    assert cols[-1] - cols[0] + 1 in (20, 21)  # the long side fills the 20-pixel box
    assert rows[-1] - rows[0] + 1 < 13  # the short side keeps the 2:1 aspect ratio


def test_thin_one_keeps_its_aspect_ratio():
    crop = np.full((100, 60), 220, np.uint8)
    cv2.line(crop, (30, 10), (30, 90), 30, thickness=5)  # 5 wide, 80 tall
    out = normalize_digit(crop)
    cols = np.flatnonzero(out.max(axis=0) > 60)
    rows = np.flatnonzero(out.max(axis=1) > 60)
    assert rows[-1] - rows[0] + 1 >= 19
    assert cols[-1] - cols[0] + 1 <= 4  # not stretched into a blob


def test_normalize_accepts_colour_and_tiny_crops():
    colour = np.full((40, 30, 3), 200, np.uint8)
    cv2.line(colour, (15, 5), (15, 35), (20, 20, 20), 3)
    assert normalize_digit(colour).max() > 200
    assert normalize_digit(np.zeros((1, 1), np.uint8)).shape == (IMAGE_SIZE, IMAGE_SIZE)
    assert normalize_digits([]).shape == (0, 28, 28)


def test_normalize_rejects_an_unknown_polarity():
    with pytest.raises(ValueError, match="ink"):
        normalize_digit(np.zeros((5, 5), np.uint8), ink="grey")  # type: ignore[arg-type]


def test_kth_smallest_by_counting_equals_partition():
    from device.recognition.preprocess import _kth_smallest

    rng = np.random.default_rng(3)
    for _ in range(200):
        values = rng.integers(0, 256, rng.integers(1, 3000), dtype=np.uint8)
        k = int(rng.integers(0, values.size))
        assert _kth_smallest(values, k) == int(np.partition(values, k)[k])
