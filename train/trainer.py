"""Training: data -> paper preprocessing -> the paper's network -> checkpoints, logs and a report.

One epoch at a time, so that each epoch's data (shuffling and, for the robust recipe, the
camera-like augmentation) comes from generators seeded by (seed, epoch): a run is reproducible,
and a resumed run sees exactly the data the uninterrupted run would have seen. The augmentation runs
in worker processes, in a fixed number of chunks each with its own generator, so the data do not
depend on how many workers a machine has.

Keras 3 with TensorFlow is the reference backend (several GPUs through tf.distribute, TensorBoard
logs, deterministic ops). With ``KERAS_BACKEND=jax`` or ``torch`` the same code trains on one device,
without TensorBoard logs: for a GPU machine that has JAX or PyTorch but no TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import platform
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.common.errors import first_line
from device.common.files import write_atomic
from device.recognition.preprocess import PREPROCESS_VERSION, prepare_mnist
from train.augment import augment_batch
from train.data import DigitSet, hold_out, load_extra, load_mnist, split_half
from train.negatives import NON_DIGIT, non_digit_batch
from train.realsets import RealSet, default_real_data, load_real_set, weighted
from train.recipes import Recipe
from train.report import (
    Evaluation,
    evaluate,
    plot_confusion,
    plot_history,
    read_history,
    save_style_samples,
    write_report,
)
from train.styles import sample_sheet

CHECKPOINT_NAME = "last.keras"
STATE_NAME = "state.json"


@dataclass(frozen=True)
class RunOptions:
    recipe: Recipe
    out_dir: Path
    data: Path | None = None  # None: the Keras MNIST download
    extra: Path | None = None
    init: Path | None = None  # start from this trained model's weights (fine-tuning); ignored on resume
    steps: int | None = None  # overrides recipe.epochs when given
    seed: int = 0
    resume: bool = False
    verbose: int = 1  # Keras: 0 silent, 1 progress bar, 2 one line per epoch
    command: str = "train"
    workers: int | None = None  # augmentation processes; None: one per core but one, at most AUGMENT_CHUNKS
    holdout: int = 0  # MNIST training digits held out for validation (the per-epoch curve), instead of the test set
    real_data: Path | None = None  # root of the real handwriting sets (train/realsets.py) the recipe names
    # With extra_held_out, all of ``extra`` trains (repeated extra_weight times per epoch) and extra_held_out is
    # the set measured, instead of the seeded half/half split of ``extra`` (scripts/ceiling_orand.py)
    extra_held_out: Path | None = None
    extra_weight: float = 1.0


@dataclass(frozen=True)
class RunResult:
    model_path: Path
    report_path: Path
    test: Evaluation
    extra: Evaluation | None
    epochs: int
    seconds: float


class Interrupted(Exception):
    """Ctrl-C during training; the last finished epoch's checkpoint is kept."""


class RunError(Exception):
    """A run that cannot start: an output folder holding another run, nothing to resume, an unusable
    starting model. The message is one line and names values, not flags."""


class RunExists(RunError):
    """The output folder already holds a run (resume it, or choose another folder)."""


def _accelerators() -> list[str]:
    """Names of the GPUs the Keras backend trains on (empty on a CPU-only machine)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                for gpu in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def _machine() -> str:
    gpus = _accelerators()
    if gpus:
        return f"{len(gpus)} GPU: {', '.join(gpus)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU only: {os.cpu_count()} cores, {cpu}"


def _uses_tensorflow() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"


def _has_tensorflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _backend_version() -> str:
    """The Keras backend and its version, e.g. "tensorflow 2.21.0"."""
    import importlib.metadata

    import keras

    backend = keras.backend.backend()  # the backends' names are their packages' names
    try:
        return f"{backend} {importlib.metadata.version(backend)}"
    except importlib.metadata.PackageNotFoundError:
        return backend


def _distribution_scope() -> contextlib.AbstractContextManager:
    """Every GPU through tf.distribute.MirroredStrategy when there are several; else a plain scope."""
    if not _uses_tensorflow():
        return contextlib.nullcontext()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    return strategy.scope()


def _compile(model, recipe: Recipe, total_steps: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate, decay_steps=max(1, total_steps), alpha=recipe.lr_floor
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


AUGMENT_CHUNKS = 16  # an epoch is augmented in this many pieces, each with its own generator


def _non_digit_count(digits: int, recipe: Recipe) -> int:
    """How many non-digit examples follow a chunk of this many training digits."""
    return round(recipe.non_digit_share * digits)


def epoch_size(digits: int, recipe: Recipe) -> int:
    """Training examples in an epoch of this many training digits: they, and each chunk's non-digit examples."""
    chunks = np.array_split(np.arange(digits), AUGMENT_CHUNKS)
    return digits + sum(_non_digit_count(len(chunk), recipe) for chunk in chunks)


def _augment_chunk(digits: np.ndarray, labels: np.ndarray, seed: int, epoch: int, chunk: int,
                   recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """One piece of an epoch, augmented and put through the paper's preprocessing (runs in a worker),
    followed by its share of non-digit examples when the recipe has that class."""
    rng = np.random.default_rng([seed, epoch, chunk])
    images = augment_batch(digits, rng, recipe.clean_fraction, recipe.augment_config(),
                           labels=labels, style_share=recipe.style_share)
    extra = _non_digit_count(len(digits), recipe)
    if extra:
        images = np.concatenate([images, non_digit_batch(digits, extra, rng, recipe.augment_config())])
        labels = np.concatenate([labels, np.full(extra, NON_DIGIT, labels.dtype)])
    return prepare_mnist(images), labels


def _init_worker() -> None:
    import signal

    import cv2

    cv2.setNumThreads(1)  # the workers already use every core; OpenCV's own threads would only contend
    # Ctrl-C reaches the whole process group: the training process handles it (checkpoint, one-line
    # message) and shuts the pool down, so the workers must not die with tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers() -> int:
    """Augmentation processes: one per core but the one that drives training, at most one per chunk."""
    return max(1, min(AUGMENT_CHUNKS, (os.cpu_count() or 1) - 1))


class EpochData:
    """Each epoch's training arrays, prepared one epoch ahead in the background.

    The order comes from a generator seeded by (seed, epoch); the augmentation of chunk ``i`` from one
    seeded by (seed, epoch, i), in ``workers`` processes (1: in a thread of this process).
    """

    def __init__(self, train: DigitSet, recipe: Recipe, seed: int, workers: int | None = None) -> None:
        self.train, self.recipe, self.seed = train, recipe, seed
        self.workers = workers or default_workers()
        self._clean = prepare_mnist(train.x) if not recipe.augment else None
        self._pool: Executor | None = None
        self._pending: dict[int, threading.Thread] = {}
        self._ready: dict[int, tuple[np.ndarray, np.ndarray] | BaseException] = {}

    def _executor(self) -> Executor | None:
        if self.workers <= 1:
            return None
        if self._pool is None:
            # spawn: the parent has TensorFlow's threads running, which a forked child must not inherit
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker)
        return self._pool

    def _make(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train))
        if self._clean is not None:
            return self._clean[order], self.train.y[order]
        pieces = np.array_split(order, AUGMENT_CHUNKS)
        args = [(self.train.x[piece], self.train.y[piece], self.seed, epoch, i, self.recipe)
                for i, piece in enumerate(pieces)]
        pool = self._executor()
        if pool is None:
            parts = [_augment_chunk(*a) for a in args]
        else:
            parts = [future.result() for future in [pool.submit(_augment_chunk, *a) for a in args]]
        x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        if self.recipe.non_digit_share > 0:  # each chunk's non-digits came after its digits: mix them in
            mixed = np.random.default_rng([self.seed, epoch, AUGMENT_CHUNKS]).permutation(len(y))
            x, y = x[mixed], y[mixed]
        return x, y

    def prefetch(self, epoch: int) -> None:
        if epoch in self._ready or epoch in self._pending:
            return

        def work() -> None:
            try:
                self._ready[epoch] = self._make(epoch)
            except BaseException as err:  # handed to get(), which raises it in the training thread
                self._ready[epoch] = err

        thread = threading.Thread(target=work, name=f"epoch-{epoch}-data", daemon=True)
        self._pending[epoch] = thread
        thread.start()

    def get(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        self.prefetch(epoch)
        self._pending.pop(epoch).join()
        result = self._ready.pop(epoch)
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _load_weights_from(model, path: Path) -> None:
    """Copy the weights of the trained model at ``path`` (a .keras file of the same network) into ``model``."""
    import keras

    try:
        source = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a missing, corrupt or foreign file
        raise RunError(f"starting model {path}: not a readable Keras model ({first_line(err, 160)})") from None
    want = [tuple(w.shape) for w in model.weights]
    have = [tuple(w.shape) for w in getattr(source, "weights", [])]
    weights = source.get_weights() if want == have else _with_new_classes(have, want, source.get_weights())
    if weights is None:
        raise RunError(f"starting model {path}: not a model of this network ({len(have)} weight tensors, "
                       f"expected {len(want)} with these shapes; train it with this version of train)")
    model.set_weights(weights)


def _with_new_classes(have: list[tuple[int, ...]], want: list[tuple[int, ...]],
                      weights: list[np.ndarray]) -> list[np.ndarray] | None:
    """A digit model's weights for the same network with more classes (the non-digit class), else None.

    Every layer but the last is kept; the last layer's digit columns are kept and each new class starts
    with zero weights and a bias that gives it little probability (it is learned in a few hundred steps).
    """
    if len(have) != len(want) or have[:-2] != want[:-2]:
        return None
    (inputs, old), (inputs_new, new), (old_bias,), (new_bias,) = have[-2], want[-2], have[-1], want[-1]
    if inputs != inputs_new or old != old_bias or new != new_bias or new <= old:
        return None
    kernel = np.zeros((inputs, new), weights[-2].dtype)
    kernel[:, :old] = weights[-2]
    bias = np.full(new, weights[-1].min(), weights[-1].dtype)
    bias[:old] = weights[-1]
    return [*weights[:-2], kernel, bias]


def _evaluate_all(
    model, x_test: np.ndarray, y_test: np.ndarray, extra: tuple[str, np.ndarray, np.ndarray] | None
) -> list[Evaluation]:
    """MNIST test, and the held-out extra half (name, prepared images, labels) when there is one."""
    evaluations = [evaluate("MNIST test", model.predict(x_test, batch_size=512, verbose=0), y_test)]
    if extra is not None:
        name, x_extra, y_extra = extra
        evaluations.append(evaluate(name, model.predict(x_extra, batch_size=512, verbose=0), y_extra))
    return evaluations


def _save_checkpoint(model, checkpoint_dir: Path, state: dict) -> None:
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(checkpoint_dir / CHECKPOINT_NAME, lambda tmp: model.save(tmp))
    write_atomic(checkpoint_dir / STATE_NAME, json.dumps(state, indent=2))


def _load_state(checkpoint_dir: Path) -> dict:
    try:
        return json.loads((checkpoint_dir / STATE_NAME).read_text())
    except (OSError, ValueError) as err:
        raise RunError(f"{checkpoint_dir}: no usable checkpoint to resume from ({first_line(err)})") from None


def _trim_history(path: Path, start_epoch: int) -> None:
    """Keep only the history of the epochs before ``start_epoch``, the ones the checkpoint holds.

    A fresh run drops any history of a run that died before its first epoch. A run killed after an epoch's
    log line but before its checkpoint would otherwise log that epoch twice when resumed.
    """
    if start_epoch == 0 or not path.is_file():
        path.unlink(missing_ok=True)
        return
    header, *rows = path.read_text().splitlines(keepends=True)
    epochs = [row.split(",", 1)[0].strip() for row in rows]  # CSVLogger's first column
    kept = [row for row, epoch in zip(rows, epochs, strict=True) if epoch.isdigit() and int(epoch) < start_epoch]
    if len(kept) < len(rows):
        write_atomic(path, header + "".join(kept))


def run_training(options: RunOptions) -> RunResult:
    """Train one run end to end; see the module docstring. Raises DataError, RunError or Interrupted."""
    import keras

    from train.model import build_model

    recipe, out_dir = options.recipe, options.out_dir
    checkpoint_dir = out_dir / "checkpoints"
    if not options.resume and (checkpoint_dir / STATE_NAME).exists():
        raise RunExists(f"{out_dir} already holds a run: resume it, or choose another output folder")

    mnist = load_mnist(options.data)
    train_set, extra_test = mnist.train, None
    validation, validation_name = mnist.test, "MNIST test"
    if options.holdout:
        train_set, validation = hold_out(mnist.train, options.holdout, options.seed)
        validation_name = f"validation ({len(validation):,} held out of MNIST training)"
    if options.extra is not None and options.extra_held_out is not None:
        extra_train, extra_test = load_extra(options.extra), load_extra(options.extra_held_out)
        extra_train = DigitSet(*weighted(extra_train.x, extra_train.y, options.extra_weight, options.seed))
    elif options.extra is not None:
        extra_train, extra_test = split_half(load_extra(options.extra), options.seed)
    if options.extra is not None:
        train_set = DigitSet(np.concatenate([train_set.x, extra_train.x]),
                             np.concatenate([train_set.y, extra_train.y]))
    real_sets: list[RealSet] = []
    for name, weight in recipe.real_sets:
        real = load_real_set(name, options.real_data or default_real_data(), options.seed)
        x_real, y_real = weighted(*real.part(held_out=False), weight, options.seed)
        train_set = DigitSet(np.concatenate([train_set.x, x_real]), np.concatenate([train_set.y, y_real]))
        real_sets.append(real)
    x_test = prepare_mnist(mnist.test.x)
    x_val = x_test if not options.holdout else prepare_mnist(validation.x)

    keras.utils.set_random_seed(options.seed)
    if _uses_tensorflow():
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    steps_per_epoch = math.ceil(epoch_size(len(train_set), recipe) / recipe.batch_size)
    total_steps = options.steps or recipe.epochs * steps_per_epoch
    epochs = math.ceil(total_steps / steps_per_epoch)

    start_epoch = 0
    with _distribution_scope():
        if options.resume:
            state = _load_state(checkpoint_dir)
            start_epoch = int(state["epoch"])
            model = keras.saving.load_model(checkpoint_dir / CHECKPOINT_NAME)
        else:
            model = build_model(recipe.model)
            if options.init is not None:
                _load_weights_from(model, options.init)
            _compile(model, recipe, total_steps)

    out_dir.mkdir(parents=True, exist_ok=True)
    _trim_history(out_dir / "history.csv", start_epoch)
    write_atomic(out_dir / "config.json", json.dumps(
        {"recipe": recipe.to_dict(), "seed": options.seed, "data": str(options.data),
         "extra": str(options.extra), "steps": total_steps, "epochs": epochs, "holdout": options.holdout,
         "preprocess_version": PREPROCESS_VERSION,
         "real_data": str(options.real_data or default_real_data()) if real_sets else None,
         "real_sets": {s.name: {"digits": len(s), "held_out": int(s.held_out.sum()),
                                "held_out_writers": s.held_out_note} for s in real_sets}}, indent=2, default=str))
    # append: fit() runs once per epoch, and each call would otherwise start the file anew
    callbacks = [keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True)]
    if _has_tensorflow():  # Keras writes TensorBoard logs through tf.summary, on any backend
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out_dir / "logs")))
    else:
        print("train: TensorFlow is not installed, so no TensorBoard logs (history.csv has the curves)",
              file=sys.stderr)
    data = EpochData(train_set, recipe, options.seed, options.workers)
    extra = None
    if extra_test is not None:
        name = options.extra_held_out.name if options.extra_held_out else f"held-out half of {options.extra.name}"
        extra = (name, prepare_mnist(extra_test.x), extra_test.y)
    before = _evaluate_all(model, x_test, mnist.test.y, extra) if options.init and not options.resume else None
    started = time.monotonic()
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            x_epoch, y_epoch = data.get(epoch)  # waits here when augmenting is slower than training
            if epoch + 1 < epochs:
                data.prefetch(epoch + 1)  # augment the next epoch while this one trains
            steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
            model.fit(x_epoch, y_epoch, batch_size=recipe.batch_size, epochs=epoch + 1,
                      initial_epoch=epoch, steps_per_epoch=steps, shuffle=False,
                      validation_data=(x_val, validation.y), callbacks=callbacks,
                      verbose=options.verbose)
            _save_checkpoint(model, checkpoint_dir, {"epoch": epoch + 1, "epochs": epochs,
                                                      "seed": options.seed, "recipe": recipe.name})
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted in epoch {epoch + 1}; {checkpoint_dir} holds epoch {epoch}") from None
    finally:
        data.close()
    seconds = time.monotonic() - started

    model_path = out_dir / "model.keras"
    write_atomic(model_path, lambda tmp: model.save(tmp))
    after = _evaluate_all(model, x_test, mnist.test.y, extra)
    test_eval, extra_eval = after[0], (after[1] if len(after) > 1 else None)
    evaluations = list(zip(after, ("confusion.png", "confusion_extra.png")[: len(after)], strict=True))
    for real in real_sets:
        x_held, y_held = real.part(held_out=True)
        if len(y_held):
            name = f"{real.name} held-out writers ({real.held_out_note})"
            evaluations.append((evaluate(name, model.predict(prepare_mnist(x_held), batch_size=512, verbose=0),
                                         y_held), f"confusion_{real.name}.png"))
    if options.holdout:
        val_eval = evaluate(validation_name, model.predict(x_val, batch_size=512, verbose=0), validation.y)
        evaluations.append((val_eval, "confusion_validation.png"))
    for evaluation, image in evaluations:
        plot_confusion(evaluation, out_dir / image)
    plot_history(read_history(out_dir / "history.csv"), out_dir / "loss.png",
                 "validation" if options.holdout else "MNIST test")
    facts = {
        "recipe": recipe.name,
        "training digits": f"{len(train_set):,}" + (
            f" ({mnist.source} {len(mnist.train):,} + {len(train_set) - len(mnist.train):,} from {options.extra.name})"
            if options.extra else ""),
        **({"real handwriting": ", ".join(f"{name} x{weight:g}" for name, weight in recipe.real_sets)}
           if recipe.real_sets else {}),
        "epochs / steps": f"{epochs} / {total_steps:,} (batch {recipe.batch_size})",
        "seed": str(options.seed),
        "wall time": f"{seconds / 60:.1f} min" + (f" (this session, from epoch {start_epoch})"
                                                  if start_epoch else ""),
        "machine": _machine(),
        "Keras / backend": f"{keras.__version__} / {_backend_version()}",
        "preprocessing": PREPROCESS_VERSION,
        "parameters": f"{model.count_params():,}",
    }
    if options.init is not None:
        facts["started from"] = f"{options.init} (learning rate {recipe.learning_rate:g})"
    if before is not None:
        facts["accuracy before this run"] = " / ".join(f"{e.name} {100 * e.accuracy:.2f} %" for e in before)
    style_samples = None
    if recipe.augment and recipe.style_share > 0:
        style_samples = "styles.png"
        sheet = sample_sheet(mnist.train.x[:2000], mnist.train.y[:2000], np.random.default_rng(options.seed))
        save_style_samples(sheet, out_dir / style_samples)
    report_path = write_report(out_dir, options.command, facts, evaluations, style_samples)
    return RunResult(model_path, report_path, test_eval, extra_eval, epochs, seconds)

