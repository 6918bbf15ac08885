"""Camera-like and elastic augmentation of the robust recipe."""

from __future__ import annotations

import numpy as np

from train.augment import augment_batch, elastic_distort


def test_elastic_distortion_moves_strokes_but_keeps_the_digit(mnist_small):
    digit = mnist_small["x_test"][0].astype(np.float32)
    warped = elastic_distort(digit, np.random.default_rng(0), alpha=34.0, sigma=4.0)
    assert warped.shape == digit.shape and warped.dtype == np.float32
    assert not np.allclose(warped, digit)
    # A smooth displacement field moves ink about; it neither erases nor multiplies it.
    assert 0.7 < warped.sum() / digit.sum() < 1.3
    assert np.array_equal(warped, elastic_distort(digit, np.random.default_rng(0), alpha=34.0, sigma=4.0))


def test_elastic_distortion_scales_with_the_image_size(mnist_small):
    # The same setting on a 2x upscaled digit displaces by twice as many pixels: the same shape change.
    digit = mnist_small["x_test"][1].astype(np.float32)
    none = elastic_distort(digit, np.random.default_rng(0), alpha=0.0, sigma=4.0)
    assert np.allclose(none, digit, atol=1e-3)
    big = np.kron(digit, np.ones((2, 2), np.float32))
    assert elastic_distort(big, np.random.default_rng(0), alpha=34.0, sigma=4.0).shape == (56, 56)


def test_augment_batch_is_seeded_keeps_labels_order_and_mnist_format(mnist_small):
    digits = mnist_small["x_train"][:64]
    first = augment_batch(digits, np.random.default_rng(3), clean_fraction=0.4)
    again = augment_batch(digits, np.random.default_rng(3), clean_fraction=0.4)
    assert first.shape == digits.shape and first.dtype == np.uint8
    assert np.array_equal(first, again)
    changed = np.array([not np.array_equal(a, b) for a, b in zip(first, digits, strict=True)])
    assert changed.mean() > 0.6  # camera-like for ~60 %, elastic for most of the rest
    # Every output is still bright ink on black, as MNIST and the normalisation draw digits.
    assert (first[:, 0, :].mean() < 30) and (first.reshape(64, -1).max(axis=1) > 128).all()
