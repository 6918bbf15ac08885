"""The paper's network, a short training run, resuming, and `train`'s errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="training needs the [train] extra")

from train import trainer  # noqa: E402
from train.cli import main  # noqa: E402
from train.model import build_model, multiply_accumulates  # noqa: E402
from train.recipes import RECIPES, get_recipe  # noqa: E402


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory, mnist_small) -> Path:
    path = tmp_path_factory.mktemp("data") / "mnist_small.npz"
    np.savez(path, x_train=mnist_small["x_train"][:1200], y_train=mnist_small["y_train"][:1200],
             x_test=mnist_small["x_test"][:300], y_test=mnist_small["y_test"][:300])
    return path


def test_network_matches_the_paper():
    model = build_model()
    assert model.count_params() == 488_935  # docs/paper.md: about 489 k
    assert abs(multiply_accumulates(model) - 16.5e6) < 0.1e6  # and 16.5 M multiply-accumulates
    assert model.get_layer("upsample2").output.shape == (None, 28, 28, 1)  # the decoder's 28x28 map
    assert model.get_layer("fc1").units == 500
    out = model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0)
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def read_history(out: Path) -> list[dict[str, str]]:
    with (out / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_short_training_beats_chance_and_writes_everything(tmp_path, small_npz, capsys):
    out = tmp_path / "run"
    code = main(["--config", "paper", "--data", str(small_npz), "--epochs", "3", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("MNIST test accuracy:")[1].split("%")[0])
    assert accuracy > 75.0  # chance is 10 %
    for name in ("model.keras", "report.md", "history.csv", "confusion.png", "loss.png", "config.json",
                 "checkpoints/last.keras", "checkpoints/state.json"):
        assert (out / name).is_file(), name
    assert list((out / "logs").rglob("events.out.tfevents*")), "TensorBoard logs"
    assert len(read_history(out)) == 3
    report = (out / "report.md").read_text()
    assert f"{accuracy:.2f} %" in report and "confusion.png" in report
    reloaded = keras.saving.load_model(out / "model.keras")
    assert reloaded.output_shape == (None, 10)


def test_interrupted_run_resumes_from_its_last_epoch(tmp_path, small_npz, monkeypatch):
    out = tmp_path / "run"
    options = trainer.RunOptions(recipe=get_recipe("paper", epochs=3), out_dir=out, data=small_npz,
                                 verbose=0, seed=5)
    real_fit = keras.Model.fit
    calls = {"n": 0}

    def fit_then_ctrl_c(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # Ctrl-C during the second epoch
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit_then_ctrl_c)
    with pytest.raises(trainer.Interrupted, match="holds epoch 1"):
        trainer.run_training(options)
    assert json.loads((out / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert not (out / "model.keras").exists()

    monkeypatch.setattr(keras.Model, "fit", real_fit)
    with pytest.raises(trainer.RunExists, match="already holds a run"):
        trainer.run_training(options)  # without --resume nothing is overwritten
    result = trainer.run_training(trainer.RunOptions(**{**options.__dict__, "resume": True}))
    assert result.epochs == 3
    assert [row["epoch"] for row in read_history(out)] == ["0", "1", "2"]
    assert json.loads((out / "checkpoints" / "state.json").read_text())["epoch"] == 3
    assert result.test.accuracy > 0.6


def test_resuming_keeps_only_the_history_of_checkpointed_epochs(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,accuracy\n0,0.5\n1,0.6\n2,0.7\n")  # killed after logging epoch 2, before its checkpoint
    trainer._trim_history(history, start_epoch=2)
    assert history.read_text() == "epoch,accuracy\n0,0.5\n1,0.6\n"
    trainer._trim_history(history, start_epoch=2)  # nothing to drop: unchanged
    assert history.read_text() == "epoch,accuracy\n0,0.5\n1,0.6\n"
    trainer._trim_history(history, start_epoch=0)  # a fresh run starts a fresh history
    assert not history.exists()


def test_ctrl_c_while_waiting_for_augmented_digits_is_an_interruption_too(tmp_path, small_npz, monkeypatch):
    def ctrl_c(self, epoch):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer.EpochData, "get", ctrl_c)
    options = trainer.RunOptions(recipe=get_recipe("robust", epochs=2), out_dir=tmp_path / "run", data=small_npz,
                                 verbose=0)
    with pytest.raises(trainer.Interrupted, match="interrupted in epoch 1"):
        trainer.run_training(options)


def test_augmentation_workers_leave_ctrl_c_to_the_training_process():
    import signal

    before = signal.getsignal(signal.SIGINT)
    try:
        trainer._init_worker()  # what each worker process runs first
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_the_shipped_keras_model_is_the_bundled_int8_models_source(mnist_small):
    from device.recognition.preprocess import prepare_mnist
    from device.recognition.recognizer import Recognizer

    root = Path(__file__).resolve().parents[1]
    model = keras.saving.load_model(root / "train" / "models" / "reader.keras", compile=False)
    reader = build_model(RECIPES["reader"].model)
    assert [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in reader.weights]
    x = mnist_small["x_test"][:300]
    keras_digits = model.predict(prepare_mnist(x), verbose=0).argmax(1)
    int8_digits = Recognizer().model.predict(prepare_mnist(x)).argmax(1)
    assert np.mean(keras_digits == int8_digits) >= 0.98
    assert np.mean(keras_digits == mnist_small["y_test"][:300]) >= 0.97


def test_init_starts_from_the_given_models_weights(tmp_path, small_npz):
    source = build_model()
    source_path = tmp_path / "source.keras"
    source.save(source_path)
    out = tmp_path / "tuned"
    # One step at a vanishing learning rate: the result must still be the source's weights.
    code = main(["--config", "paper-plain", "--data", str(small_npz), "--init", str(source_path), "--steps", "1",
                 "--learning-rate", "1e-9", "--out", str(out), "--quiet"])
    assert code == 0
    tuned = keras.saving.load_model(out / "model.keras")
    for got, want in zip(tuned.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    report = (out / "report.md").read_text()
    assert "started from" in report and "accuracy before this run" in report


def test_init_with_a_foreign_or_broken_model_exits_2_with_one_line(tmp_path, small_npz, capsys):
    foreign = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    foreign.save(tmp_path / "foreign.keras")
    (tmp_path / "broken.keras").write_bytes(b"not a zip file")
    for name, message in (("foreign.keras", "not a model of this network"), ("broken.keras", "not a readable")):
        code = main(["--data", str(small_npz), "--init", str(tmp_path / name), "--steps", "1",
                     "--out", str(tmp_path / f"out-{name}")])
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and err.startswith("train: error: starting model")


def test_same_seed_gives_the_same_epoch_data(mnist_small):
    from train.data import DigitSet

    train_set = DigitSet(mnist_small["x_train"][:64], mnist_small["y_train"][:64].astype(np.int64))
    recipe = get_recipe("robust")
    a = trainer.EpochData(train_set, recipe, seed=7).get(3)
    b = trainer.EpochData(train_set, recipe, seed=7).get(3)
    c = trainer.EpochData(train_set, recipe, seed=8).get(3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_epoch_data_do_not_depend_on_the_number_of_augmentation_workers(mnist_small):
    from train.data import DigitSet

    train_set = DigitSet(mnist_small["x_train"][:96], mnist_small["y_train"][:96].astype(np.int64))
    recipe = get_recipe("robust")
    inline = trainer.EpochData(train_set, recipe, seed=5, workers=1)
    pooled = trainer.EpochData(train_set, recipe, seed=5, workers=2)  # two spawned worker processes
    try:
        a, b = inline.get(2), pooled.get(2)
    finally:
        pooled.close()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape == (96, 28, 28, 1) and a[0].dtype == np.float32


def test_an_augmentation_failure_reaches_the_training_loop(mnist_small, monkeypatch):
    from train.data import DigitSet

    def broken(*args, **kwargs):
        raise RuntimeError("augmentation broke")

    monkeypatch.setattr(trainer, "_augment_chunk", broken)
    train_set = DigitSet(mnist_small["x_train"][:32], mnist_small["y_train"][:32].astype(np.int64))
    data = trainer.EpochData(train_set, get_recipe("robust"), seed=0, workers=1)
    data.prefetch(0)  # fails in the background thread ...
    with pytest.raises(RuntimeError, match="augmentation broke"):
        data.get(0)  # ... and is raised where the epoch is used, instead of hanging or vanishing


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "/no/such/mnist.npz"], "no such file"),
        (["--extra", "/no/such/folder"], "no such file"),
    ],
)
def test_missing_paths_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("train: error:")


def test_bad_data_and_flags_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((4, 32, 32)), y_train=np.zeros(4), x_test=np.zeros((2, 32, 32)),
             y_test=np.zeros(2))
    for argv in (["--data", str(bad), "--out", str(tmp_path / "o")], ["--epochs", "0"], ["--config", "nope"]):
        proc = subprocess.run([sys.executable, "-m", "train", *argv], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "error:" in proc.stderr.strip().splitlines()[-1]


def test_a_styles_run_shows_its_writing_styles_in_the_report(tmp_path, small_npz):
    out = tmp_path / "styles"
    assert main(["--config", "styles", "--data", str(small_npz), "--steps", "2", "--out", str(out), "--quiet"]) == 0
    report = (out / "report.md").read_text()
    assert "## Writing styles added to MNIST" in report and "![writing styles](styles.png)" in report
    import cv2

    sheet = cv2.imread(str(out / "styles.png"), cv2.IMREAD_GRAYSCALE)
    assert sheet is not None and sheet.shape == (3 * 300, 3 * 480)  # 10 rows and 16 columns of 30 px, 3x


def test_recipes_without_styles_add_no_style_picture(tmp_path, small_npz):
    out = tmp_path / "plain"
    argv = ["--config", "paper-plain", "--data", str(small_npz), "--steps", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert not (out / "styles.png").exists() and "Writing styles" not in (out / "report.md").read_text()


def test_hold_out_is_seeded_stratified_and_disjoint(mnist_small):
    from train.data import DataError, DigitSet, hold_out

    digits = DigitSet(mnist_small["x_train"], mnist_small["y_train"].astype(np.int64))
    rest, held = hold_out(digits, 200, seed=3)
    again_rest, again_held = hold_out(digits, 200, seed=3)
    assert np.array_equal(held.x, again_held.x) and np.array_equal(rest.y, again_rest.y)
    assert abs(len(held) - 200) <= 5 and len(rest) + len(held) == len(digits)
    shares = np.bincount(held.y, minlength=10) / len(held)
    assert np.allclose(shares, np.bincount(digits.y, minlength=10) / len(digits), atol=0.01)
    flat = {image.tobytes() for image in held.x}
    assert not any(image.tobytes() in flat for image in rest.x[:500])  # no digit on both sides
    assert not np.array_equal(hold_out(digits, 200, seed=4)[1].x, held.x)
    with pytest.raises(DataError, match="cannot hold out"):
        hold_out(digits, len(digits))


def test_holdout_run_follows_the_validation_digits_and_reports_them(tmp_path, small_npz):
    out = tmp_path / "val"
    argv = ["--config", "paper-plain", "--data", str(small_npz), "--steps", "3", "--holdout", "200",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    report = (out / "report.md").read_text()
    assert "### validation (" in report and "held out of MNIST training)" in report and "### MNIST test" in report
    assert json.loads((out / "config.json").read_text())["holdout"] == 200
    assert (out / "confusion_validation.png").is_file()


def test_holdout_is_refused_for_a_personal_fine_tune(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    shipped = Path(__file__).resolve().parents[1] / "train" / "models" / "reader.keras"
    assert main(["--init", str(shipped), "--extra", str(folder), "--holdout", "100"]) == 2
    assert "--holdout is for the recipes" in capsys.readouterr().err
