"""The real handwriting sets' one loader, the pen renderer, the neighbour-digit crops and the reader-real recipe."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from device.data.digitsets import DataError
from train.augment import AugmentConfig, augment_batch
from train.pen_render import draw_strokes, render_pen_digit
from train.provenance import recipe_data
from train.realsets import REAL_SETS, held_out_writers, load_real_set, weighted
from train.recipes import RECIPES, get_recipe, parse_real_sets
from train.styles import stroke_width

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def seven(dx: float = 0.0) -> list[np.ndarray]:
    """A pen '7' in tablet units, y downwards: the bar on top, the stem down to the left."""
    return [np.array([[0 + dx, 0], [300 + dx, 0], [120 + dx, 500]], float)]


def test_a_pen_seven_is_drawn_upright_and_normalised_like_a_crop():
    image = render_pen_digit(seven(), np.random.default_rng(0))
    assert image.shape == (28, 28) and image.dtype == np.uint8
    rows = image.astype(float).sum(axis=1)
    assert rows[:10].sum() > rows[-10:].sum()  # the bar is at the top
    assert np.flatnonzero(image.max(axis=1) > 50).size in range(18, 22)  # MNIST's 20-pixel box
    assert draw_strokes([], 2.0) is None
    assert not render_pen_digit([np.zeros((0, 2))], np.random.default_rng(0)).any()


def test_pen_widths_spread_as_the_real_crops_do():
    rng = np.random.default_rng(1)
    shapes = [seven(), [np.array([[0, 0], [0, 400]], float), np.array([[-60, 80], [0, 0]], float)],
              [np.column_stack([150 * np.cos(t := np.linspace(0, 2 * np.pi, 40)), 250 * np.sin(t)])]]
    widths = [stroke_width(render_pen_digit(shapes[i % 3], rng) / 255.0) for i in range(150)]
    # the real cheque crops (ORAND-CAR-A development boxes): median 2.7, 5th / 95th percentiles 1.9 / 3.8
    assert 2.2 <= np.median(widths) <= 3.3
    assert np.percentile(widths, 5) < 2.6 < np.percentile(widths, 95)


@pytest.fixture
def real_root(tmp_path) -> Path:
    """Tiny stand-ins of three staged sets, in the layout of ../shared/data."""
    rng = np.random.default_rng(0)
    (tmp_path / "optdigits_train").mkdir()
    bitmaps = np.zeros((20, 32, 32), np.uint8)
    bitmaps[:, 4:28, 10:22] = 255
    np.savez(tmp_path / "optdigits_train" / "optdigits_train.npz", x32=bitmaps, y=np.arange(20) % 10)
    (tmp_path / "uji_pen_chars" / "source").mkdir(parents=True)
    # as the source file: per digit, 20 samples, two sessions of each of 10 writers in turn
    raw = {str(label): [[seven(float(rng.integers(0, 50)))[0].tolist()] for _ in range(20)] for label in range(10)}
    (tmp_path / "uji_pen_chars" / "source" / "ujipenchars2.json").write_text(json.dumps({"rawData": raw}))
    (tmp_path / "pendigits" / "source").mkdir(parents=True)
    for name, rows in (("pendigits.tra", 20), ("pendigits.tes", 10)):
        lines = [", ".join(str(v) for v in [*rng.integers(0, 100, 16), i % 10]) for i in range(rows)]
        (tmp_path / "pendigits" / "source" / name).write_text("\n".join(lines) + "\n")
    return tmp_path


def test_every_set_loads_the_same_way_with_writers_held_out(real_root):
    uji = load_real_set("uji", real_root, seed=0)
    assert uji.x.shape == (200, 28, 28) and uji.x.dtype == np.uint8 and len(uji) == 200
    assert set(uji.writer[uji.held_out]).isdisjoint(uji.writer[~uji.held_out])  # by writer, not by digit
    assert len(set(uji.writer[uji.held_out])) == 2 and uji.held_out_note == "2 of 10 writers"
    again = load_real_set("uji", real_root, seed=0)
    np.testing.assert_array_equal(again.x, uji.x)  # seeded: the same pen widths every run
    optdigits = load_real_set("optdigits", real_root)
    assert not optdigits.held_out.any() and (optdigits.writer == -1).all()  # the set names no writers
    pendigits = load_real_set("pendigits", real_root)
    assert pendigits.held_out.sum() == 10  # its own test writers
    x, y = pendigits.part(held_out=False)
    assert len(x) == len(y) == 20


def test_a_missing_or_broken_set_is_one_line(real_root):
    with pytest.raises(DataError, match="no such folder"):
        load_real_set("unipen", real_root, download=False)
    with pytest.raises(DataError, match="unknown real handwriting set"):
        load_real_set("orand", real_root)
    (real_root / "uji_pen_chars" / "source" / "ujipenchars2.json").write_text("{not json\n")
    with pytest.raises(DataError, match="cannot read"):
        load_real_set("uji", real_root)
    (real_root / "pendigits" / "source" / "pendigits.tes").write_text("1, 2, x\n")
    with pytest.raises(DataError, match="cannot read"):
        load_real_set("pendigits", real_root)
    (real_root / "optdigits_train" / "optdigits_train.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read"):
        load_real_set("optdigits", real_root)


def test_held_out_writers_and_weights():
    writers = np.repeat(np.arange(10), 5)
    held = held_out_writers(writers, seed=3)
    assert held.sum() == 10 and len(set(writers[held])) == 2
    assert not held_out_writers(np.full(7, -1), seed=3).any()
    x, y = np.arange(10)[:, None], np.arange(10)
    assert len(weighted(x, y, 2.5, 0)[1]) == 25 and len(weighted(x, y, 0.3, 0)[1]) == 3


def test_real_sets_spec_and_the_recipe():
    assert parse_real_sets("unipen=1,uji=3") == (("unipen", 1.0), ("uji", 3.0))
    assert parse_real_sets("none") == () and parse_real_sets("uji") == (("uji", 1.0),)
    assert parse_real_sets("uji=3,pendigits=0") == (("uji", 3.0),)
    for bad, message in (("usps=1", "unknown"), ("uji=x", "number"), ("uji=-1", "between")):
        with pytest.raises(ValueError, match=message):
            parse_real_sets(bad)
    recipe = RECIPES["reader-real"]
    assert recipe.shippable and {name for name, _ in recipe.real_sets} <= set(REAL_SETS)
    assert get_recipe("reader-real", real_sets=()).real_sets == ()
    names = [d["name"] for d in recipe_data(recipe)]
    assert names[0] == "MNIST" and all(any(REAL_SETS[n].what == m for m in names) for n, _ in recipe.real_sets)
    assert all("CC BY 4.0" in d["licence"] for d in recipe_data(recipe)[2:])
    assert RECIPES["reader"].augment_config().neighbour_digit_prob == 0  # the older recipes draw as before


def test_neighbour_digits_put_a_piece_of_another_digit_in_the_box():
    from train.augment import _ink_box, _with_neighbour

    ink = np.zeros((84, 84), np.float32)
    cv2.line(ink, (50, 20), (40, 59), 1.0, 2)  # a slanted "1", 40 px tall
    ring = np.zeros((28, 28), np.uint8)
    cv2.circle(ring, (14, 14), 8, 255, 3)  # a "0" beside it
    box = _ink_box(ink)
    top, bottom, left, right = box
    assert bottom - top >= 40
    cfg = AugmentConfig(neighbour_overlap=(0.3, 0.3))
    for seed in range(6):
        crowded = _with_neighbour(ink, ring, box, np.random.default_rng(seed), cfg)
        assert (crowded >= ink).all()  # the digit itself is untouched
        added = (crowded > 0.3) & (ink < 0.3)
        inside = added[top:bottom, left:right].sum()
        assert inside > 0 and added.sum() > 3 * inside  # a piece reaches into the box, the rest lies outside
    digits = np.zeros((16, 28, 28), np.uint8)
    digits[:, 4:24, 12:16] = 255
    with_piece = augment_batch(digits, np.random.default_rng(0), 0.0, AugmentConfig(neighbour_digit_prob=1.0))
    assert with_piece.shape == digits.shape and with_piece.any(axis=(1, 2)).all()


@pytest.mark.skipif(not (SHARED / "uji_pen_chars").is_dir(), reason="../shared/data (the staged real sets) absent")
def test_the_staged_sets_load_with_their_counts():
    assert len(load_real_set("uji", SHARED)) == 1200
    assert len(load_real_set("optdigits", SHARED)) == 2880


def test_a_reader_real_run_trains_on_the_sets_and_reports_their_held_out_writers(tmp_path, real_root, mnist_small):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    from train.provenance import training_record
    from train.trainer import RunOptions, run_training

    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=mnist_small["x_train"][:300], y_train=mnist_small["y_train"][:300],
             x_test=mnist_small["x_test"][:100], y_test=mnist_small["y_test"][:100])
    recipe = get_recipe("reader-real", real_sets=(("uji", 2.0), ("optdigits", 1.0)))
    out = tmp_path / "run"
    result = run_training(RunOptions(recipe=recipe, out_dir=out, data=data, steps=3, verbose=0, workers=1,
                                     real_data=real_root))
    config = json.loads((out / "config.json").read_text())
    assert config["real_sets"]["uji"] == {"digits": 200, "held_out": 40, "held_out_writers": "2 of 10 writers"}
    report = (out / "report.md").read_text()
    assert "uji x2, optdigits x1" in report and "uji held-out writers (2 of 10 writers)" in report
    assert (out / "confusion_uji.png").is_file() and result.model_path.is_file()
    record = training_record(result.model_path)
    names = [d["name"] for d in record["data"]]
    assert REAL_SETS["uji"].what in names and REAL_SETS["optdigits"].what in names
    assert REAL_SETS["unipen"].what not in names  # the run's own sets, not the recipe's default
