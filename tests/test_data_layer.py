"""One data layer: ``device eval`` and ``train --extra`` see the same digits from the same file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from device.cli import main as device_main
from device.data.digitsets import DataError, load_digits, looks_like_mnist
from device.recognition.preprocess import to_uint8
from device.tools import evaluate
from train.data import load_extra


def photographed(digits: np.ndarray, size: tuple[int, int] = (40, 34)) -> np.ndarray:
    """MNIST digits as a camera sees them: dark ink on grey paper, another size."""
    crops = [255 - cv2.resize(d, size, interpolation=cv2.INTER_LINEAR) for d in digits]
    return np.stack([np.clip(c.astype(np.int16) - 30, 0, 255).astype(np.uint8) for c in crops])


def spy_on_device_eval(monkeypatch, argv: list[str]) -> np.ndarray:
    """Run ``device eval`` and return the digits it measured (what it hands to the model)."""
    seen: list[np.ndarray] = []
    real = evaluate.evaluate_model

    def spy(model, digits, name="", progress=None):
        seen.append(digits.x.copy())
        return real(model, digits, name, progress)

    monkeypatch.setattr(evaluate, "evaluate_model", spy)
    assert device_main(["eval", *argv]) == 0
    return seen[0]


@pytest.mark.parametrize("style", ["mnist", "photographed"])
def test_device_eval_and_train_extra_see_the_same_digits_from_one_npz(
    style: str, mnist_small, tmp_path: Path, monkeypatch, capsys
) -> None:
    x = mnist_small["x_test"][:60]
    x = x if style == "mnist" else photographed(x)
    path = tmp_path / f"{style}.npz"
    np.savez(path, x=x, y=mnist_small["y_test"][:60])
    by_eval = spy_on_device_eval(monkeypatch, ["--npz", str(path)])
    by_train = load_extra(path)
    np.testing.assert_array_equal(by_eval, by_train.x)
    assert by_train.x.shape == (60, 28, 28) and by_train.x.dtype == np.uint8
    assert by_train.style == ("mnist" if style == "mnist" else "normalized")


def test_device_eval_and_train_extra_see_the_same_digits_from_one_folder(
    mnist_small, tmp_path: Path, monkeypatch, capsys
) -> None:
    crops = photographed(mnist_small["x_test"][:30])
    for i, (crop, label) in enumerate(zip(crops, mnist_small["y_test"][:30], strict=True)):
        (tmp_path / str(label)).mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / str(label) / f"{i:03d}.png"), crop)
    by_eval = spy_on_device_eval(monkeypatch, ["--folder", str(tmp_path)])
    np.testing.assert_array_equal(by_eval, load_extra(tmp_path).x)


def test_keras_layout_gives_eval_its_test_part_and_train_both_parts(mnist_small, tmp_path: Path) -> None:
    path = tmp_path / "keras.npz"
    np.savez(path, x_train=mnist_small["x_train"][:40], y_train=mnist_small["y_train"][:40],
             x_test=mnist_small["x_test"][:20], y_test=mnist_small["y_test"][:20])
    np.testing.assert_array_equal(evaluate.load_eval_set(path).x, mnist_small["x_test"][:20])
    everything = load_extra(path)
    np.testing.assert_array_equal(everything.x[:40], mnist_small["x_train"][:40])
    np.testing.assert_array_equal(everything.x[40:], mnist_small["x_test"][:20])


def test_x_y_arrays_are_the_whole_set_for_every_command(mnist_small, tmp_path: Path) -> None:
    path = tmp_path / "both.npz"  # as USPS ships: x/y (all) beside a Keras-layout split
    np.savez(path, x=mnist_small["x_test"][:50], y=mnist_small["y_test"][:50],
             x_train=mnist_small["x_train"][:10], y_train=mnist_small["y_train"][:10],
             x_test=mnist_small["x_test"][:5], y_test=mnist_small["y_test"][:5])
    assert len(evaluate.load_eval_set(path)) == len(load_extra(path)) == 50


def test_one_rule_turns_float_images_into_uint8() -> None:
    fractions = np.array([[0.0, 0.5, 1.0, np.nan]], np.float32)
    np.testing.assert_array_equal(to_uint8(fractions), [[0, 128, 255, 0]])
    levels = np.array([[-3.0, 12.4, 300.0]])
    np.testing.assert_array_equal(to_uint8(levels), [[0, 12, 255]])
    same = np.array([[7]], np.uint8)
    assert to_uint8(same) is same


def test_mnist_style_is_recognised_and_photographs_are_not(mnist_small) -> None:
    assert looks_like_mnist(mnist_small["x_test"][:100])
    assert not looks_like_mnist(photographed(mnist_small["x_test"][:100], (28, 28)))
    assert not looks_like_mnist(list(photographed(mnist_small["x_test"][:5])))


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"a": np.zeros(3)}, "need arrays x and y"),
        ({"x": np.zeros((3, 28, 28)), "y": np.array([1, 2])}, "one label per image"),
        ({"x": np.zeros((2, 28, 28)), "y": np.array([1, 12])}, "labels must be 0..9"),
        ({"x": np.zeros((2, 28)), "y": np.array([1, 2])}, r"shaped \(N, H, W\)"),
    ],
)
def test_bad_sets_are_one_line_errors(arrays: dict, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_digits(path)
    assert "\n" not in str(info.value)
