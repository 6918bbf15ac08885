"""``train --config personal``: one user's digits, the sanity check, the fine-tune, the honest report.

The steps, each printed as it happens (a fine-tune takes a minute or two on a laptop CPU):

1. the user's digits (a ``device collect`` folder, or an .npz) through the same data layer as ``device eval``,
   and MNIST for replay and for the forgetting check;
2. the sanity check (``train.personal.sanity_check``): per class, how often the starting model already agrees
   with the labels; blank and non-digit images; ``strict`` refuses a folder with problems;
3. the stable split by file (``stable_split``): held-out digits stop the training and measure it;
4. the fine-tune (``train.finetune.finetune``), then ``OUT/model.keras`` and ``OUT/report.md``: held-out own
   accuracy before and after with a 95 % interval, a per-digit table, MNIST test before and after.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.common.errors import first_line
from device.common.files import write_atomic
from device.common.shapes import NUM_CLASSES
from device.data.digitsets import DataError, DigitSet, each_mnist_style, folder_digits, folder_keys, load_digits
from device.recognition.preprocess import PREPROCESS_VERSION
from device.tools.evaluate import Evaluation, evaluation
from train.data import load_mnist
from train.personal import PersonalRecipe, SanityReport, sanity_check, stable_folds, stable_split

MIN_DIGITS = 10


class PersonalError(Exception):
    """A personal fine-tune that cannot start; one line naming values."""


@dataclass(frozen=True)
class PersonalOptions:
    extra: Path
    init: Path
    out_dir: Path
    data: Path | None = None
    recipe: PersonalRecipe = field(default_factory=PersonalRecipe)
    max_steps: int | None = None
    seed: int = 0
    strict: bool = False
    folds: int = 0  # > 1: also k-fold cross-validate, k more fine-tunes, for the uncertainty of a small set
    command: str = "train"


@dataclass(frozen=True)
class PersonalResult:
    model_path: Path
    report_path: Path
    mnist_before: Evaluation
    mnist_after: Evaluation
    own_before: Evaluation | None  # None when no digit was held out
    own_after: Evaluation | None
    sanity: SanityReport
    seconds: float
    folds: list[tuple[Evaluation, Evaluation]] = field(default_factory=list)  # (before, after) per fold


def load_own(path: Path) -> tuple[DigitSet, list[str]]:
    """The user's digits, MNIST-style exactly as ``device eval --folder`` sees them, and a key per digit for
    the split: the file name in a folder, the index in an .npz."""
    if path.is_dir():
        images, labels = folder_digits(path)
        return each_mnist_style(images, labels), folder_keys(path)
    digits = load_digits(path, part="all")
    return digits, [str(i) for i in range(len(digits))]


def wilson(correct: int, count: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of an accuracy measured on ``count`` digits (Wilson score): small sets are uncertain."""
    if count == 0:
        return 0.0, 1.0
    p = correct / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


def _load_model(path: Path):
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a missing, corrupt or foreign file
        raise PersonalError(f"starting model {path}: not a readable Keras model ({first_line(err, 160)})") from None
    if tuple(model.input_shape[1:]) != (28, 28, 1) or model.output_shape[-1] not in (NUM_CLASSES, NUM_CLASSES + 1):
        raise PersonalError(f"starting model {path}: not a digit model of this project "
                            f"(input {model.input_shape}, output {model.output_shape})")
    return model


def _subset(digits: DigitSet, mask: np.ndarray) -> DigitSet:
    return DigitSet(digits.x[mask], digits.y[mask], digits.style)


def run_personal(options: PersonalOptions, say: Callable[[str], None] = print) -> PersonalResult:
    """See the module docstring. Raises DataError or PersonalError with one-line messages."""
    from train.finetune import finetune, read_digits

    out_dir, recipe = options.out_dir, options.recipe
    if (out_dir / "model.keras").exists():
        raise PersonalError(f"{out_dir} already holds a model: choose another output folder")
    own, keys = load_own(options.extra)
    if len(own) < MIN_DIGITS:
        raise DataError(f"{options.extra}: {len(own)} digits; a fine-tune needs at least {MIN_DIGITS}")
    mnist = load_mnist(options.data)
    model = _load_model(options.init)

    say(f"{options.extra}: {len(own)} digits; asking {options.init.name} what it reads in them")
    sanity = sanity_check(own.x, own.y, read_digits(model, own.x), keys)
    say(sanity.table())
    for problem in sanity.problems:
        say(f"warning: {problem}")
    if options.strict and sanity.problems:
        raise DataError(f"{options.extra}: {sanity.problems[0]} (--strict refuses a folder with problems; "
                        "fix the folder, or run without --strict)")

    held_mask = stable_split(keys, recipe.holdout, options.seed)
    if held_mask.all() or (~held_mask).sum() < MIN_DIGITS // 2:
        held_mask[:] = False
    own_train, own_held = _subset(own, ~held_mask), _subset(own, held_mask)
    name = f"held-out {options.extra.name} ({len(own_held)} digits)"
    held_before = evaluation(name, own_held.y, read_digits(model, own_held.x)) if len(own_held) else None
    mnist_before = evaluation("MNIST test", mnist.test.y, read_digits(model, mnist.test.x))
    say(f"training on {len(own_train)} digits, {len(own_held)} held out (by file, seed {options.seed}); "
        f"before: MNIST test {100 * mnist_before.accuracy:.2f} %"
        + (f", held-out own {100 * held_before.accuracy:.2f} %" if held_before else ""))

    total = options.max_steps or recipe.max_steps

    def on_round(step: int, loss: float | None, acc: float | None) -> None:
        held = f": held-out loss {loss:.3f}, accuracy {100 * acc:.1f} %" if loss is not None else ""
        say(f"step {step}/{total}{held}")

    started = time.monotonic()
    fit = finetune(model, own_train, own_held, mnist.train, recipe, options.seed, on_round, options.max_steps)
    held_after = evaluation(name, own_held.y, read_digits(model, own_held.x)) if len(own_held) else None
    mnist_after = evaluation("MNIST test", mnist.test.y, read_digits(model, mnist.test.x))
    seconds = time.monotonic() - started
    fold_steps = max(fit.best_step, min(fit.steps, recipe.check_every))  # at least a round, as the run did
    folds = _cross_validate(options, own, keys, mnist.train, fold_steps, say) \
        if options.folds > 1 else []

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = write_atomic(out_dir / "model.keras", lambda tmp: model.save(tmp))
    write_atomic(out_dir / "config.json", json.dumps(
        {"recipe": recipe.to_dict(), "seed": options.seed, "data": str(options.data), "extra": str(options.extra),
         "init": str(options.init), "steps": fit.steps, "kept_step": fit.best_step,
         "preprocess_version": PREPROCESS_VERSION}, indent=2, default=str))
    result = PersonalResult(model_path, out_dir / "report.md", mnist_before, mnist_after, held_before,
                            held_after, sanity, seconds, folds)
    write_atomic(result.report_path, personal_report(options, result, fit.steps, fit.best_step, len(own_train)))
    return result


def _cross_validate(
    options: PersonalOptions, own: DigitSet, keys: list[str], mnist_train: DigitSet, steps: int,
    say: Callable[[str], None],
) -> list[tuple[Evaluation, Evaluation]]:
    """k-fold cross-validation of the recipe on the user's digits: each fold held out once, the model trained
    from the starting model on the others for the main run's kept number of steps (no early stopping: the
    held-out fold only measures). Every digit is measured once, by a model that never saw it."""
    from train.finetune import finetune, read_digits

    fold_of = stable_folds(keys, options.folds, options.seed)
    results = []
    for k in range(options.folds):
        held = fold_of == k
        if not held.any() or held.all():
            continue
        model = _load_model(options.init)
        before = evaluation(f"fold {k + 1}", own.y[held], read_digits(model, own.x[held]))
        finetune(model, _subset(own, ~held), None, mnist_train, options.recipe, options.seed + k, max_steps=steps)
        after = evaluation(f"fold {k + 1}", own.y[held], read_digits(model, own.x[held]))
        say(f"fold {k + 1}/{options.folds}: {after.count} held-out digits, {100 * before.accuracy:.1f} % before, "
            f"{100 * after.accuracy:.1f} % after")
        results.append((before, after))
    return results


def _spread(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _folds_section(folds: list[tuple[Evaluation, Evaluation]]) -> list[str]:
    before = np.array([b.accuracy for b, _ in folds])
    after = np.array([a.accuracy for _, a in folds])
    pooled_b = sum(b.correct for b, _ in folds) / max(1, sum(b.count for b, _ in folds))
    pooled_a = sum(a.correct for _, a in folds) / max(1, sum(a.count for _, a in folds))
    lines = ["", f"### {len(folds)}-fold cross-validation", "",
             "Each fold of your files held out once; the model trained on the others for as many steps as the "
             "main run kept. Every digit measured once by a model that never saw it.", "",
             "| fold | digits | before % | after % |", "|---|---|---|---|"]
    lines += [f"| {i + 1} | {b.count} | {100 * b.accuracy:.1f} | {100 * a.accuracy:.1f} |"
              for i, (b, a) in enumerate(folds)]
    lines += [f"| all (mean ± sd of folds) | {sum(b.count for b, _ in folds)} | "
              f"{100 * pooled_b:.2f} ({100 * before.mean():.1f} ± {100 * _spread(before):.1f}) | "
              f"{100 * pooled_a:.2f} ({100 * after.mean():.1f} ± {100 * _spread(after):.1f}) |"]
    return lines


def _accuracy_with_interval(e: Evaluation) -> str:
    low, high = wilson(e.correct, e.count)
    return f"{100 * e.accuracy:.2f} % ({e.correct}/{e.count}; 95 % interval {100 * low:.1f}-{100 * high:.1f} %)"


def _per_digit_rows(before: Evaluation, after: Evaluation) -> list[str]:
    rows = ["| digit | held out | right before | right after |", "|---|---|---|---|"]
    for d in range(NUM_CLASSES):
        n = int(before.per_class_count[d])
        rows.append(f"| {d} | {n} | {int(before.confusion[d, d])} | {int(after.confusion[d, d])} |")
    return rows


def personal_report(options: PersonalOptions, result: PersonalResult, steps: int, kept: int, trained: int) -> str:
    """report.md of a personal fine-tune: what ran and how well, with the uncertainty of small sets."""
    lines = ["# Personal fine-tune", "", f"`{options.command}`", "", "| | |", "|---|---|",
             f"| your digits | {options.extra}: {trained} trained on, "
             f"{result.own_before.count if result.own_before else 0} held out (by file, seed {options.seed}) |",
             f"| starting model | {options.init} |",
             f"| recipe | {json.dumps(options.recipe.to_dict())} |",
             f"| steps | {steps} run; kept: step {kept} (lowest held-out loss from step "
             f"{min(options.recipe.min_steps, steps)} on), blended {options.recipe.blend:g} with the starting "
             "model's weights |",
             f"| wall time | {result.seconds:.0f} s |",
             f"| preprocessing | {PREPROCESS_VERSION} |", "", "## Accuracy", "",
             "| | before | after |", "|---|---|---|"]
    if result.own_before and result.own_after:
        lines.append(f"| held-out own digits | {_accuracy_with_interval(result.own_before)} | "
                     f"{_accuracy_with_interval(result.own_after)} |")
    lines.append(f"| MNIST test | {_accuracy_with_interval(result.mnist_before)} | "
                 f"{_accuracy_with_interval(result.mnist_after)} |")
    lines.append("")
    if result.own_before and result.own_after:
        lines += ["A few dozen held-out digits measure coarsely: the interval is how far the true accuracy on "
                  "your hand may lie, and more sheets narrow it. These digits also chose where the training "
                  "stopped, so the figure after leans a little optimistic: `--folds 5` measures every digit "
                  "once with a model that never saw it. scripts/personal_finetune.py measures the recipe over "
                  "repeated draws (docs/log/2026-12.md).", "", "### Held-out own digits, per digit", ""]
        lines += _per_digit_rows(result.own_before, result.own_after)
    else:
        lines.append("No digit was held out (too few digits): the fine-tune ran its full length unchecked.")
    if result.folds:
        lines += _folds_section(result.folds)
    lines += ["", "## Sanity check before training", "", "```", result.sanity.table(), "```", ""]
    lines += [f"- {problem}" for problem in result.sanity.problems] or ["No problems found."]
    return "\n".join(lines) + "\n"
