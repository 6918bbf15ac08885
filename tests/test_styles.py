"""Writing styles MNIST lacks (train/styles.py), patterned paper and JPEG (train/augment.py)."""

from __future__ import annotations

import numpy as np
import pytest

from train import styles
from train.augment import AugmentConfig, augment_batch, camera_like, jpeg_round_trip, security_pattern
from train.recipes import RECIPES


def _first(mnist_small, digit: int) -> np.ndarray:
    return mnist_small["x_train"][np.flatnonzero(mnist_small["y_train"] == digit)[0]]


def _columns_with_ink(image: np.ndarray) -> np.ndarray:
    return np.flatnonzero(image.max(axis=0) > 100)


def _is_mnist_style(image: np.ndarray) -> bool:
    """28x28 uint8, bright ink on black, as normalize_digit draws digits (centring by mass may bring a
    top-heavy 7 close to the edge, but the digit is not cut off)."""
    if image.shape != (28, 28) or image.dtype != np.uint8 or image.max() <= 128:
        return False
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).astype(np.int64)
    return border.sum() < 0.05 * image.astype(np.int64).sum()


EDITS = [(styles.add_flag, 1), (styles.add_base, 1), (styles.cross_seven, 7),
         (styles.change_stroke, 3), (styles.stretch, 0)]


@pytest.mark.parametrize(("edit", "digit"), EDITS, ids=[e.__name__ for e, _ in EDITS])
def test_each_edit_is_seeded_keeps_the_format_and_changes_the_digit(mnist_small, edit, digit):
    source = _first(mnist_small, digit)
    first = edit(source, np.random.default_rng(4))
    assert np.array_equal(first, edit(source, np.random.default_rng(4)))
    assert _is_mnist_style(first)
    assert not np.array_equal(first, source)


def test_a_flag_makes_a_one_wider_and_adds_ink_at_its_top_left(mnist_small):
    ones = mnist_small["x_train"][mnist_small["y_train"] == 1][:30]
    one = min(ones, key=lambda image: len(_columns_with_ink(image)))  # an upright bare stroke
    flagged = styles.add_flag(one, np.random.default_rng(0))
    # normalize_digit fits the taller side into 20 px: a bare 1 is a narrow stroke, a flagged one is not
    assert len(_columns_with_ink(flagged)) > len(_columns_with_ink(one)) + 2
    # the flag hangs left of the stem from its top: the upper half reaches further left than the lower quarter
    rows = np.flatnonzero(flagged.max(axis=1) > 100)
    top, height = rows[0], rows[-1] - rows[0]
    upper_left = _columns_with_ink(flagged[top : top + height // 2])[0]
    lower_left = _columns_with_ink(flagged[top + 3 * height // 4 :])[0]
    assert upper_left < lower_left - 2


def test_a_crossed_seven_has_a_bar_below_its_top_stroke(mnist_small):
    seven = _first(mnist_small, 7)
    crossed = styles.cross_seven(seven, np.random.default_rng(1))
    middle_rows = slice(12, 20)
    widest = max(len(np.flatnonzero(row > 100)) for row in crossed[middle_rows])
    assert widest > max(len(np.flatnonzero(row > 100)) for row in seven[middle_rows])


def test_stretch_changes_the_aspect_ratio_both_ways(mnist_small):
    zero = _first(mnist_small, 0)
    widths = []
    for seed in range(12):
        stretched = styles.stretch(zero, np.random.default_rng(seed))
        rows = np.flatnonzero(stretched.max(axis=1) > 100)
        widths.append(len(_columns_with_ink(stretched)) / max(1, len(rows)))
    assert min(widths) < 0.6 and max(widths) > 1.0


def test_stroke_width_is_measured_in_pixels():
    image = np.zeros((56, 56), np.float32)
    image[10:46, 20:26] = 1.0  # a bar 6 px wide
    assert 4.0 <= styles.stroke_width(image) <= 7.0
    assert styles.stroke_width(np.zeros((56, 56), np.float32)) == 1.0


@pytest.mark.parametrize("digit", range(10))
def test_every_glyph_style_draws_its_digit_in_mnist_format(digit):
    for name in styles.GLYPHS[digit]:
        first = styles.draw_glyph(digit, np.random.default_rng(7), name)
        assert np.array_equal(first, styles.draw_glyph(digit, np.random.default_rng(7), name))
        assert _is_mnist_style(first), (digit, name)
        assert 20 <= int((first > 100).sum()) <= 500, (digit, name)  # strokes, not a blob or a speck


def test_glyphs_are_read_as_their_digits_by_the_bundled_model():
    # Drawn glyphs are only useful when they look like their digit: the shipped model (trained on MNIST,
    # never on glyphs) reads most of the MNIST-like styles right.
    from device.recognition.preprocess import prepare_mnist
    from device.recognition.recognizer import Recognizer

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    glyphs = np.stack([styles.draw_glyph(int(d), rng) for d in labels])
    predicted = Recognizer().model.predict(prepare_mnist(glyphs)).argmax(axis=1)
    assert np.mean(predicted == labels) > 0.6


def test_restyle_batch_keeps_order_and_labels_and_weights_the_classes(mnist_small):
    x, y = mnist_small["x_train"][:1000], mnist_small["y_train"][:1000]
    first = styles.restyle_batch(x, y, np.random.default_rng(2), share=0.3)
    assert np.array_equal(first, styles.restyle_batch(x, y, np.random.default_rng(2), share=0.3))
    assert first.shape == x.shape and first.dtype == np.uint8
    changed = np.array([not np.array_equal(a, b) for a, b in zip(first, x, strict=True)])
    assert 0.15 < changed.mean() < 0.45
    # 1s and 7s (weight 2.0) are restyled far more often than 3s, 6s and 8s (weight 0.4)
    often, rarely = np.isin(y, [1, 7]), np.isin(y, [3, 6, 8])
    assert changed[often].mean() > 2 * changed[rarely].mean()
    assert np.array_equal(styles.restyle_batch(x, y, np.random.default_rng(2), share=0.0), x)


def test_security_pattern_draws_lines_of_the_asked_contrast():
    cfg = AugmentConfig(pattern_contrast=(30.0, 30.0))
    pattern = security_pattern((40, 30), np.random.default_rng(0), cfg)
    assert pattern.shape == (40, 30)
    assert set(np.unique(pattern)) == {0.0, 30.0}
    assert 0.1 < (pattern > 0).mean() < 0.7  # lines and gaps, not a flat tint


def test_jpeg_round_trip_keeps_the_shape_and_loses_a_little():
    image = np.random.default_rng(0).integers(0, 256, (30, 20), dtype=np.uint8)
    out = jpeg_round_trip(image, 40)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)


def test_patterned_camera_crops_are_darker_behind_the_ink(mnist_small):
    digit = _first(mnist_small, 2)
    plain = camera_like(digit, np.random.default_rng(3), AugmentConfig(noise_std=(0.0, 0.0)))
    patterned = camera_like(digit, np.random.default_rng(3),
                            AugmentConfig(noise_std=(0.0, 0.0), pattern_prob=1.0, pattern_contrast=(40.0, 40.0)))
    # without noise, the same draws give the same crop, with a pattern that only ever darkens the paper
    assert (patterned <= plain).all() and (patterned < plain).any()


def test_the_robust_recipe_draws_no_style_pattern_or_jpeg():
    # the shipped robust model's data stay what they were: the new draws happen only when switched on
    robust = RECIPES["robust"]
    assert robust.style_share == 0 and robust.pattern_prob == 0 and robust.jpeg_prob == 0
    styled = RECIPES["styles"]
    assert styled.style_share > 0 and styled.pattern_prob > 0 and styled.jpeg_prob > 0


def test_styles_recipe_augments_with_labels(mnist_small):
    recipe = RECIPES["styles"]
    x, y = mnist_small["x_train"][:200], mnist_small["y_train"][:200]
    out = augment_batch(x, np.random.default_rng(0), recipe.clean_fraction, recipe.augment_config(),
                        labels=y, style_share=recipe.style_share)
    assert out.shape == x.shape and out.dtype == np.uint8
    assert np.array_equal(out, augment_batch(x, np.random.default_rng(0), recipe.clean_fraction,
                                             recipe.augment_config(), labels=y, style_share=recipe.style_share))
