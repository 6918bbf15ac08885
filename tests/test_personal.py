"""Personal fine-tuning (issue 16): the weighting, the stable split, one normalisation, the sanity check, the
walk-through's commands offline (train --config personal, device eval --folder) on tiny runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from device.data.digitsets import folder_digits, load_digits
from device.tools.evaluate import load_eval_set
from tests.test_collect import filled_sheet, photograph
from train.personal import PersonalRecipe, mixed_batches, own_count, sanity_check, stable_split

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "tests" / "data" / "mnist_subset.npz"  # offline: the walk-through passes --data


@pytest.fixture(scope="module")
def collected(tmp_path_factory, mnist_small) -> Path:
    """A device collect folder from a photographed sheet, plus one stray photo-like crop in 5/."""
    from device.tools.collect.photos import collect_from_sheet

    folder = tmp_path_factory.mktemp("collect") / "my_digits"
    page, _ = filled_sheet(mnist_small)
    collect_from_sheet(photograph(page), folder)
    stray = np.full((60, 40), 210, np.uint8)
    cv2.putText(stray, "5", (6, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 30, 4)
    cv2.imwrite(str(folder / "5" / "photo.png"), stray)
    return folder


# --------------------------------------------------------------------------------------------
# Weighting
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("share, batch", [(0.25, 64), (0.5, 32), (0.01, 16)])
def test_every_batch_holds_the_recipes_share_of_own_digits(mnist_small, share: float, batch: int) -> None:
    recipe = PersonalRecipe(own_share=share, batch_size=batch, own_augment=1.0)
    not_seven = mnist_small["y_train"] != 7
    mnist_x, mnist_y = mnist_small["x_train"][not_seven][:300], mnist_small["y_train"][not_seven][:300]
    own_x = mnist_small["x_test"][mnist_small["y_test"] == 7][:13]  # 13: not a multiple of any batch share
    x, y, own = mixed_batches(own_x, np.full(len(own_x), 7), mnist_x, mnist_y, 6, recipe,
                              np.random.default_rng(0))
    assert (own == (y == 7)).all()
    assert x.shape == (6 * batch, 28, 28) and x.dtype == np.uint8
    per_batch = (y.reshape(6, batch) == 7).sum(axis=1)
    assert per_batch.tolist() == [own_count(recipe)] * 6 == [max(1, round(share * batch))] * 6
    assert not (y.reshape(6, batch)[:, 0] == 7).all(), "own digits sit at random places in a batch"


def test_replay_keeps_the_non_digit_class_alive_for_an_eleven_class_model(mnist_small) -> None:
    recipe = PersonalRecipe(own_share=0.5, batch_size=32, replay_non_digit=0.2)
    mnist_x, mnist_y = mnist_small["x_train"][:300], mnist_small["y_train"][:300]
    own_x = mnist_small["x_test"][:20]
    args = (own_x, mnist_small["y_test"][:20], mnist_x, mnist_y, 10, recipe)
    x, y, own = mixed_batches(*args, np.random.default_rng(0), non_digits=True)
    marks = y == 10
    assert not (marks & own).any()  # taken from the replay, never from the user's digits
    assert 0.1 < marks.sum() / (~own).sum() < 0.3
    assert all(image.max() > 0 for image in x[marks])
    _, y_plain, _ = mixed_batches(*args, np.random.default_rng(0))
    assert (y_plain < 10).all()  # a ten-class model's replay holds digits only


def test_own_digits_are_seen_equally_often() -> None:
    recipe = PersonalRecipe(own_share=0.5, batch_size=8, own_augment=0.0)
    own_x = np.zeros((5, 28, 28), np.uint8)
    for i in range(5):
        own_x[i, 10:18, 10 + i] = 255 - i  # tell them apart after mixing
    mnist_x = np.zeros((20, 28, 28), np.uint8)
    x, y, _ = mixed_batches(own_x, np.full(5, 1), mnist_x, np.zeros(20, np.int64), 5, recipe,
                         np.random.default_rng(1))
    seen = [int(x[y == 1][:, 12, 10 + i].astype(bool).sum()) for i in range(5)]
    assert seen == [4] * 5  # 5 batches x 4 own = 20 = each of the 5 four times


# --------------------------------------------------------------------------------------------
# Stable split
# --------------------------------------------------------------------------------------------
def test_split_keeps_earlier_files_where_they_were_when_sheets_are_added() -> None:
    first = [f"{d}/{i:05d}.png" for d in range(10) for i in range(10)]
    more = [f"{d}/{i:05d}.png" for d in range(10) for i in range(10, 30)]
    held_first = stable_split(first, 0.2, seed=0)
    held_all = stable_split(first + more, 0.2, seed=0)
    assert held_all[: len(first)].tolist() == held_first.tolist()
    assert stable_split(list(reversed(first)), 0.2, 0)[::-1].tolist() == held_first.tolist(), "order-free"
    assert 0.1 < held_all.mean() < 0.3
    assert stable_split(first, 0.2, seed=1).tolist() != held_first.tolist(), "the seed chooses the split"


def test_folds_are_stable_too_and_cover_every_file() -> None:
    from train.personal import stable_folds

    keys = [f"{d}/{i:05d}.png" for d in range(10) for i in range(30)]
    folds = stable_folds(keys, 5, seed=0)
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3, 4] and np.bincount(folds).min() > 30
    assert stable_folds([*keys, "3/99999.png"], 5, seed=0)[:-1].tolist() == folds.tolist()


def test_split_keeps_the_digits_of_one_image_together() -> None:
    keys = [str(i // 5) for i in range(500)]  # 100 images of 5 digits
    held = stable_split(keys, 0.3, seed=3).reshape(100, 5)
    assert (held.all(axis=1) | ~held.any(axis=1)).all()


# --------------------------------------------------------------------------------------------
# One normalisation
# --------------------------------------------------------------------------------------------
def test_train_and_device_eval_see_the_same_pixels_of_a_collect_folder(collected: Path) -> None:
    from train.data import load_extra
    from train.personal_run import load_own

    images, labels = folder_digits(collected)
    as_saved = [i for i, im in enumerate(images) if im.shape == (28, 28)]
    evaluated = load_eval_set(collected)  # device eval --folder
    trained, keys = load_own(collected)  # train --config personal --extra
    np.testing.assert_array_equal(trained.x, evaluated.x)
    np.testing.assert_array_equal(load_extra(collected).x, evaluated.x)  # train --config robust --extra
    np.testing.assert_array_equal(trained.y, labels)
    # What collect saved reaches both pixel for pixel: the stray photo beside it normalises only itself.
    np.testing.assert_array_equal(evaluated.x[as_saved], np.stack([images[i] for i in as_saved]))
    stray = keys.index("5/photo.png")
    assert stray not in as_saved and evaluated.x[stray].max() > 200 and evaluated.x[stray][0].max() < 60
    assert evaluated.style == "mixed"


# --------------------------------------------------------------------------------------------
# Sanity check
# --------------------------------------------------------------------------------------------
def write_noise_folder(folder: Path, per_class: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for d in range(10):
        (folder / str(d)).mkdir(parents=True)
        for i in range(per_class):
            noise = rng.integers(0, 256, (28, 28), dtype=np.uint8)
            cv2.imwrite(str(folder / str(d) / f"{i:05d}.png"), noise if i else np.zeros((28, 28), np.uint8))
    return folder


def test_sanity_check_reports_blank_and_noise_images_and_a_class_far_below(tmp_path: Path) -> None:
    folder = write_noise_folder(tmp_path / "noise")
    digits = load_digits(folder)
    keys = [f"{d}/{i:05d}.png" for d in range(10) for i in range(4)]
    report = sanity_check(digits.x, digits.y, np.zeros(len(digits), np.int64), keys)
    assert report.blank == [f"{d}/00000.png" for d in range(10)]
    assert len(report.unlike) >= 20
    assert any("agrees with only" in p for p in report.problems)
    text = "\n".join(report.problems)
    assert "blank image" in text and "do not look like digits" in text
    # Real digits, one class mislabelled: that class is named.
    y = np.repeat(np.arange(10), 10)
    predicted = y.copy()
    predicted[y == 4] = 9
    good = np.zeros((100, 28, 28), np.uint8)
    good[:, 8:20, 12:16] = 255
    report = sanity_check(good, y, predicted, [str(i) for i in range(100)])
    assert [p for p in report.problems if p.startswith("digit 4:")], report.problems
    assert not report.blank and not report.unlike
    assert "digit  count  model agrees" in report.table()


# --------------------------------------------------------------------------------------------
# The walk-through's commands, offline
# --------------------------------------------------------------------------------------------
def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          check=False)


def test_help_names_the_personal_recipe_and_strict() -> None:
    out = run("-m", "train", "--help").stdout
    assert "personal" in out and "--strict" in out and "my_digits/" in out


def test_strict_refuses_a_folder_of_noise_in_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    pytest.importorskip("keras", reason="training needs the [train] extra")
    from train.cli import main

    folder = write_noise_folder(tmp_path / "noise")
    out = tmp_path / "run"
    code = main(["--init", "train/models/reader.keras", "--extra", str(folder), "--data", str(SUBSET),
                 "--strict", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("train: error: ") and captured.err.count("\n") == 1, captured.err
    assert "--strict" in captured.err and "blank" in captured.err
    assert "warning: " in captured.out and "model agrees" in captured.out  # the table and every problem
    assert not out.exists()


def test_walk_through_offline_personal_run_then_device_eval_folder(collected: Path, tmp_path: Path) -> None:
    """docs/raspberry-pi.md section 7, shortened by --steps: train (the personal default of --init with
    --extra), then device eval --folder with the bundled model, as the docs' before-and-after check."""
    pytest.importorskip("keras", reason="training needs the [train] extra")
    out = tmp_path / "mine"
    done = run("-m", "train", "--init", "train/models/reader.keras", "--extra", str(collected),
               "--data", str(SUBSET), "--steps", "2", "--folds", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "model agrees" in done.stdout and "step 2/2" in done.stdout and "fold 2/2" in done.stdout
    assert "before" in done.stdout and "after" in done.stdout
    report = (out / "report.md").read_text()
    assert "# Personal fine-tune" in report and "95 % interval" in report and "| digit | held out |" in report
    assert "2-fold cross-validation" in report and "No digit was held out" not in report
    assert (out / "model.keras").is_file()
    again = run("-m", "train", "--config", "personal", "--extra", str(collected), "--data", str(SUBSET),
                "--steps", "1", "--out", str(out))
    assert again.returncode == 2 and "already holds a model" in again.stderr
    evaluated = run("-m", "device", "eval", "--folder", str(collected))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "accuracy:" in evaluated.stdout


def test_personal_without_extra_and_with_epochs_are_usage_errors(tmp_path: Path) -> None:
    from train.cli import main

    assert main(["--config", "personal", "--data", str(SUBSET)]) == 2
    assert main(["--config", "personal", "--extra", str(tmp_path), "--epochs", "2"]) == 2
    assert main(["--config", "robust", "--strict", "--data", str(SUBSET)]) == 2
    assert main(["--config", "personal", "--extra", str(tmp_path), "--folds", "1"]) == 2


def test_replay_targets_keep_the_starting_models_answers_by_the_distill_share() -> None:
    from train.finetune import targets

    labels, own = np.array([3, 5]), np.array([True, False])
    teacher = np.full((2, 10), 0.1, np.float32)
    rows = targets(labels, own, teacher, 0.5)
    assert rows[0].tolist() == np.eye(10)[3].tolist(), "own digits learn their labels"
    np.testing.assert_allclose(rows[1], 0.5 * np.eye(10)[5] + 0.05)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    assert targets(labels, own, None, 0.5).tolist() == np.eye(10)[[3, 5]].tolist()


def test_targets_of_an_eleven_class_model_have_a_column_for_non_digits() -> None:
    from train.finetune import targets

    rows = targets(np.array([3, 10]), np.array([True, False]), None, 0.0, classes=11)
    assert rows.shape == (2, 11) and rows[1, 10] == 1.0 and rows[0, 3] == 1.0


def test_the_report_reads_digits_as_the_device_does(mnist_small) -> None:
    """read_digits: the Keras model's answers with the device's second look and non-digit decision."""
    import keras

    from device import Recognizer
    from train.finetune import read_digits

    model = keras.saving.load_model(Path(__file__).resolve().parents[1] / "train" / "models" / "reader.keras")
    x = mnist_small["x_test"][:60]
    classes = read_digits(model, x)
    assert classes.shape == (60,) and classes.dtype == np.int64
    device_classes = Recognizer().classify(x, ink="bright")[0]
    assert np.mean(classes == device_classes) >= 0.95  # the int8 model, read the same way
    assert read_digits(model, x[:0]).shape == (0,)
