"""Digit data sets: MNIST and other people's handwriting, loaded and split for training.

- MNIST from a Keras-layout ``.npz``, a folder of the four IDX files (optionally gzipped), or, with
  no path, the usual Keras download and cache.
- Another handwriting set (``--extra``) from an ``.npz`` (``x``/``y`` or Keras layout) or a folder
  ``0/`` .. ``9/`` of images; every image goes through ``device.recognition.preprocess.normalize_digits`` exactly
  as a camera crop does, then both sets share ``device.recognition.preprocess.paper_preprocess``.
- ``split_half``: the paper's second experiment, a seeded, stratified, disjoint half/half split.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.recognition.preprocess import normalize_digits

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data set that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True)
class DigitSet:
    """Digit images (N, H, W) uint8 with bright ink, and labels (N,) int64 in 0..9."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Mnist:
    train: DigitSet
    test: DigitSet


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def checked_set(x: np.ndarray, y: np.ndarray, source: str, side: int | None = 28) -> DigitSet:
    """Check shapes, dtypes and labels; return images as uint8 and labels as int64."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or (side is not None and x.shape[1:] != (side, side)):
        want = f"(N, {side}, {side})" if side else "(N, H, W)"
        raise DataError(f"{source}: images must be shaped {want}, got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{source}: need one label per image, got {len(x)} images and labels shaped {y.shape}")
    if len(y) == 0:
        raise DataError(f"{source}: no images")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise DataError(f"{source}: labels must be whole numbers 0..9")
    labels = y.astype(np.int64)
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{source}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    if x.dtype != np.uint8:
        if np.issubdtype(x.dtype, np.floating) and float(np.nanmax(x)) <= 1.0:
            x = x * 255.0  # float images in [0, 1]
        x = np.clip(np.nan_to_num(x), 0, 255).round().astype(np.uint8)
    return DigitSet(np.ascontiguousarray(x), labels)


def _read_npz(path: Path, keys: list[str]) -> dict[str, np.ndarray] | None:
    """The named arrays of an .npz (never unpickling), or None when one of them is missing."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not all(key in data.files for key in keys):
                return None
            return {key: data[key] for key in keys}
    except (OSError, ValueError, EOFError, KeyError) as err:  # ValueError: also object arrays
        raise DataError(f"{path}: not a readable .npz file of plain arrays ({err})") from None


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------
def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise DataError(f"{path}: cannot read IDX file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise DataError(f"{path}: IDX file is truncated or has trailing bytes")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem.replace("-idx", ".idx"), stem + ".gz", stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: missing IDX file {stem}[.gz]")


def load_mnist(path: str | Path | None = None) -> Mnist:
    """MNIST from a Keras-layout .npz, a folder of IDX files, or (None) the Keras download cache."""
    if path is None:
        try:
            import keras  # training side only: the device never downloads

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as err:  # network errors come in many types
            raise DataError(f"cannot download MNIST ({err}); pass --data PATH to a mnist.npz") from None
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        source = "keras MNIST download"
    else:
        path = Path(path)
        source = str(path)
        if path.is_dir():
            arrays = {key: _read_idx(_find_idx(path, stem)) for key, stem in IDX_FILES.items()}
        elif path.is_file():
            found = _read_npz(path, list(IDX_FILES))
            if found is None:
                raise DataError(f"{path}: not a Keras-layout MNIST .npz (need {', '.join(IDX_FILES)})")
            arrays = found
        else:
            raise DataError(f"{path}: no such file or folder")
    return Mnist(
        train=checked_set(arrays["x_train"], arrays["y_train"], f"{source} (train)"),
        test=checked_set(arrays["x_test"], arrays["y_test"], f"{source} (test)"),
    )


# --------------------------------------------------------------------------------------------
# Other people's handwriting
# --------------------------------------------------------------------------------------------
def load_extra(path: str | Path) -> DigitSet:
    """Another handwriting set, normalised MNIST-style by the camera pipeline's own code.

    ``.npz`` with ``x``/``y`` (or Keras layout: train and test are joined), images of any size and
    either polarity; or a folder ``0/`` .. ``9/`` of images. Returns (N, 28, 28) uint8, bright ink.
    """
    path = Path(path)
    if path.is_dir():
        from device.tools.evaluate import DataError as FolderError
        from device.tools.evaluate import load_folder  # the device's own reader of 0/..9/ folders

        try:
            crops, labels = load_folder(path)
        except FolderError as err:
            raise DataError(str(err)) from None
        return checked_set(normalize_digits(crops, ink="auto"), labels, str(path))
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    plain = _read_npz(path, ["x", "y"])
    if plain is not None:
        x, y = plain["x"], plain["y"]
    else:
        keras_layout = _read_npz(path, list(IDX_FILES))
        if keras_layout is None:
            raise DataError(f"{path}: need arrays x and y (or x_train, y_train, x_test, y_test)")
        x = np.concatenate([keras_layout["x_train"], keras_layout["x_test"]])
        y = np.concatenate([keras_layout["y_train"], keras_layout["y_test"]])
    raw = checked_set(x, y, str(path), side=None)
    return DigitSet(normalize_digits(raw.x, ink="auto"), raw.y)


def split_half(digits: DigitSet, seed: int = 0) -> tuple[DigitSet, DigitSet]:
    """Seeded, stratified, disjoint half/half split: (mixed into training, held out for testing).

    Each class is shuffled and cut in two; an odd class gives its extra image to the held-out half.
    """
    rng = np.random.default_rng(seed)
    train_idx: list[np.ndarray] = []
    held_idx: list[np.ndarray] = []
    for digit in range(10):
        members = np.flatnonzero(digits.y == digit)
        rng.shuffle(members)
        half = len(members) // 2
        train_idx.append(members[:half])
        held_idx.append(members[half:])
    first, second = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(held_idx))
    return DigitSet(digits.x[first], digits.y[first]), DigitSet(digits.x[second], digits.y[second])
