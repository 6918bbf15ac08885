"""Loaders for MNIST and other handwriting, and the paper's half/half split."""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.data import DataError, DigitSet, load_extra, load_mnist, split_half


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def test_mnist_from_npz(mnist_npz_path):
    mnist = load_mnist(mnist_npz_path)
    assert mnist.train.x.shape[1:] == (28, 28) and mnist.train.x.dtype == np.uint8
    assert mnist.test.y.dtype == np.int64 and set(np.unique(mnist.test.y)) == set(range(10))


def test_mnist_from_idx_folder_plain_and_gzipped(tmp_path, mnist_small):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_small["x_train"][:50], compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", mnist_small["y_train"][:50], compress=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", mnist_small["x_test"][:20])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", mnist_small["y_test"][:20])
    mnist = load_mnist(tmp_path)
    np.testing.assert_array_equal(mnist.train.x, mnist_small["x_train"][:50])
    np.testing.assert_array_equal(mnist.test.y, mnist_small["y_test"][:20])


def test_truncated_idx_file_is_refused(tmp_path, mnist_small):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_small["x_train"][:5])
    (tmp_path / "train-images-idx3-ubyte").write_bytes((tmp_path / "train-images-idx3-ubyte").read_bytes()[:-7])
    for name, arr in (("train-labels-idx1-ubyte", mnist_small["y_train"][:5]),
                      ("t10k-images-idx3-ubyte", mnist_small["x_test"][:5]),
                      ("t10k-labels-idx1-ubyte", mnist_small["y_test"][:5])):
        write_idx(tmp_path / name, arr)
    with pytest.raises(DataError, match="truncated"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((3, 28, 28)), "y_train": np.zeros(3)}, "need x_train"),
        ({"x_train": np.zeros((3, 32, 32)), "y_train": np.zeros(3), "x_test": np.zeros((2, 28, 28)),
          "y_test": np.zeros(2)}, "shaped"),
        ({"x_train": np.zeros((3, 28, 28)), "y_train": np.zeros(2), "x_test": np.zeros((2, 28, 28)),
          "y_test": np.zeros(2)}, "one label per image"),
        ({"x_train": np.zeros((3, 28, 28)), "y_train": np.array([0, 1, 12]), "x_test": np.zeros((2, 28, 28)),
          "y_test": np.zeros(2)}, "0..9"),
    ],
)
def test_bad_mnist_npz_gives_a_clear_error(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_mnist(path)


def test_missing_and_corrupt_files_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_mnist(tmp_path / "nope.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match=r"not an \.npz archive"):
        load_mnist(corrupt)
    with pytest.raises(DataError, match="missing IDX"):
        load_mnist(tmp_path)


def test_pickled_npz_is_never_loaded(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.array([1]))
    with pytest.raises(DataError, match="plain arrays"):
        load_extra(path)


def test_extra_npz_of_any_size_is_normalised_like_a_camera_crop(tmp_path, mnist_small):
    small = np.stack([cv2.resize(d, (16, 16), interpolation=cv2.INTER_AREA) for d in mnist_small["x_test"][:40]])
    np.savez(tmp_path / "extra.npz", x=small, y=mnist_small["y_test"][:40])
    extra = load_extra(tmp_path / "extra.npz")
    assert extra.x.shape == (40, 28, 28) and extra.x.dtype == np.uint8
    # MNIST-style: a 20-pixel digit centred by mass in 28x28 keeps nearly all its ink off the border.
    ink = extra.x.astype(np.float64)
    assert ink[:, 3:-3, 3:-3].sum() / ink.sum() > 0.97


def test_extra_folder_of_dark_ink_images(tmp_path, mnist_small):
    for i, (digit, label) in enumerate(zip(mnist_small["x_test"][:12], mnist_small["y_test"][:12], strict=True)):
        folder = tmp_path / str(label)
        folder.mkdir(exist_ok=True)
        photo = 230 - cv2.resize(digit, (64, 64)) * 0.8
        cv2.imwrite(str(folder / f"{i}.png"), photo.astype(np.uint8))
    extra = load_extra(tmp_path)
    assert len(extra) == 12
    assert sorted(extra.y.tolist()) == sorted(mnist_small["y_test"][:12].tolist())
    assert extra.x[:, 14, :].max() > 100  # bright ink after normalisation


def test_extra_folder_with_a_corrupt_image_names_it(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=r"broken\.png"):
        load_extra(tmp_path)
    with pytest.raises(DataError, match="no images"):
        load_extra(tmp_path / "3")


def labelled(counts: list[int]) -> DigitSet:
    y = np.concatenate([np.full(n, digit) for digit, n in enumerate(counts)])
    x = np.arange(len(y))[:, None, None] * np.ones((1, 28, 28), np.int64)  # each image knows its index
    return DigitSet(x, y)


def test_split_is_stratified_disjoint_and_complete():
    digits = labelled([100, 101, 50, 51, 30, 31, 20, 21, 10, 11])
    mixed, held = split_half(digits, seed=3)
    mixed_ids, held_ids = set(mixed.x[:, 0, 0]), set(held.x[:, 0, 0])
    assert not mixed_ids & held_ids
    assert mixed_ids | held_ids == set(range(len(digits)))
    for digit in range(10):
        a, b = np.sum(mixed.y == digit), np.sum(held.y == digit)
        assert abs(a - b) <= 1 and a + b == np.sum(digits.y == digit)


def test_split_is_seeded():
    digits = labelled([40] * 10)
    first, _ = split_half(digits, seed=1)
    again, _ = split_half(digits, seed=1)
    other, _ = split_half(digits, seed=2)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)
