"""The non-digit class: its synthetic examples (train/negatives.py), the reader recipe's epochs, and a digit
model's weights carried over to the eleven-class network."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from device.common.shapes import NUM_CLASSES
from train.data import DigitSet
from train.negatives import NON_DIGIT, drawn_mark, non_digit, non_digit_batch, touching_digits
from train.recipes import RECIPES, Recipe
from train.trainer import EpochData, _with_new_classes, epoch_size


@pytest.fixture(scope="module")
def digits(mnist_small) -> np.ndarray:
    return mnist_small["x_train"][:200]


def test_non_digit_class_comes_after_the_ten_digits():
    assert NON_DIGIT == NUM_CLASSES == 10


def test_a_non_digit_example_is_an_mnist_style_image_and_reproducible_with_a_seed(digits):
    first = non_digit(digits, np.random.default_rng(3))
    again = non_digit(digits, np.random.default_rng(3))
    assert first.shape == (28, 28) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert first.max() > 200 and first[0].max() == 0 and first[:, 0].max() == 0  # bright ink, dark margin
    assert not np.array_equal(first, non_digit(digits, np.random.default_rng(4)))


def test_touching_digits_are_wider_than_tall_and_touch(digits):
    for seed in range(20):
        ink = touching_digits(digits, np.random.default_rng(seed))
        assert ink.shape[1] > 0.4 * ink.shape[0]  # two 1s overlapping never make one thick 1
        inked_columns = (ink > 0.3).any(axis=0)
        first, last = np.flatnonzero(inked_columns)[[0, -1]]
        gaps = ~inked_columns[first:last]
        assert gaps.sum() <= 0.1 * ink.shape[0]  # at most a hairline between them, never a digit-sized gap


def test_drawn_marks_are_never_upright_strokes_that_could_be_a_one():
    for seed in range(40):
        ink = drawn_mark(np.random.default_rng(seed))
        rows, cols = np.flatnonzero((ink > 0.3).any(axis=1)), np.flatnonzero((ink > 0.3).any(axis=0))
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert width > 0.5 * height, f"seed {seed}: a mark {width}x{height} px could pass for a 1"


def test_a_batch_has_the_count_asked_for(digits):
    batch = non_digit_batch(digits, 7, np.random.default_rng(0))
    assert batch.shape == (7, 28, 28) and batch.dtype == np.uint8
    assert all(image.max() > 0 for image in batch)


def test_reader_recipe_adds_its_share_of_non_digits_mixed_into_the_epoch(digits, mnist_small):
    recipe = RECIPES["reader"]
    assert recipe.model.classes == 11 and recipe.shippable
    train = DigitSet(digits, mnist_small["y_train"][:200].astype(np.int64))
    data = EpochData(train, recipe, seed=0, workers=1)
    try:
        x, y = data.get(0)
    finally:
        data.close()
    expected = sum(round(recipe.non_digit_share * len(part)) for part in np.array_split(np.arange(200), 16))
    assert len(x) == len(y) == 200 + expected
    assert (y == NON_DIGIT).sum() == expected
    where = np.flatnonzero(y == NON_DIGIT)
    assert where.min() < len(y) // 2  # not all at the ends of their chunks: mixed in
    assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32
    assert epoch_size(200, recipe) == len(y)  # what the step count is made from


def test_a_recipe_with_non_digits_needs_the_eleven_class_model():
    with pytest.raises(ValueError, match="11-class"):
        dataclasses.replace(RECIPES["styles"], non_digit_share=0.1)
    assert epoch_size(200, RECIPES["styles"]) == 200
    assert isinstance(RECIPES["reader"], Recipe)


def test_digit_model_weights_start_the_eleven_class_model():
    rng = np.random.default_rng(0)
    conv, bias_conv = rng.normal(size=(5, 5, 1, 32)), rng.normal(size=32)
    kernel, bias = rng.normal(size=(500, 10)), rng.normal(size=10)
    have = [conv.shape, bias_conv.shape, kernel.shape, bias.shape]
    want = [conv.shape, bias_conv.shape, (500, 11), (11,)]
    new = _with_new_classes(have, want, [conv, bias_conv, kernel, bias])
    assert new is not None
    np.testing.assert_array_equal(new[0], conv)
    np.testing.assert_array_equal(new[2][:, :10], kernel)
    assert not new[2][:, 10].any()  # the new class starts from nothing ...
    assert new[3][10] <= bias.min()  # ... and as unlikely as the least likely digit
    np.testing.assert_array_equal(new[3][:10], bias)
    # Anything but "the same network with more classes" is not carried over.
    other = [conv.shape, bias_conv.shape, (400, 11), (11,)]
    assert _with_new_classes(have, other, [conv, bias_conv, kernel, bias]) is None
    assert _with_new_classes(want, have, new) is None
