"""Evaluation and the run's report: accuracy, confusion matrix and loss-curve PNGs, report.md."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from device.common.files import write_atomic
from device.recognition.decision import decided_classes
from device.tools.evaluate import Evaluation, class_name, evaluation

__all__ = ["Evaluation", "evaluate", "plot_confusion", "plot_history", "read_history", "write_report"]


def evaluate(name: str, probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Accuracy and confusion matrix of a Keras model's output probabilities (device/tools/evaluate.py)."""
    return evaluation(name, labels, decided_classes(probabilities))


def plot_confusion(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    shown = np.log1p(evaluation.confusion)  # the diagonal would drown every mistake
    ax.imshow(shown, cmap="Blues")
    rows, columns = evaluation.confusion.shape
    for true in range(rows):
        for pred in range(columns):
            n = evaluation.confusion[true, pred]
            if n:
                colour = "white" if shown[true, pred] > shown.max() * 0.6 else "black"
                ax.text(pred, true, str(n), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(columns), [class_name(c) for c in range(columns)])
    ax.set_yticks(range(rows))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{evaluation.name}: {evaluation.accuracy:.2%} of {evaluation.count:,}")
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def read_history(path: Path) -> dict[str, list[float]]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def plot_history(history: dict[str, list[float]], path: Path, validation: str = "MNIST test") -> None:
    """Loss and accuracy per epoch; ``validation`` names the set of the ``val_`` columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("loss", "training"), ("val_loss", validation)):
        if key in history:
            loss_ax.plot(epochs, history[key], marker=".", label=label)
    loss_ax.set_title("loss (cross-entropy + L2)")
    for key, label in (("accuracy", "training"), ("val_accuracy", validation)):
        if key in history:
            acc_ax.plot(epochs, [100 * v for v in history[key]], marker=".", label=label)
    acc_ax.set_title("accuracy (%)")
    shown = [100 * v for key in ("accuracy", "val_accuracy") for v in history.get(key, [])]
    acc_ax.set_ylim(bottom=min([97.0, *shown]) - 0.5, top=100)  # augmented training sits far below test
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _evaluation_section(evaluation: Evaluation, image: str) -> str:
    per_class = " | ".join(f"{100 * a:.2f}" for a in evaluation.per_class)
    return (
        f"### {evaluation.name}\n\n"
        f"**{100 * evaluation.accuracy:.2f} %** of {evaluation.count:,} digits "
        f"({int(evaluation.count - np.trace(evaluation.confusion))} wrong).\n\n"
        f"| digit | {' | '.join(str(d) for d in range(10))} |\n|---|{'---|' * 10}\n"
        f"| accuracy % | {per_class} |\n\n![confusion matrix]({image})\n"
    )


def save_style_samples(sheet: np.ndarray, path: Path) -> None:
    """The styles' sample sheet (train/styles.py), enlarged 3x so that strokes can be seen, as a PNG."""
    import cv2

    big = cv2.resize(sheet, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    ok, encoded = cv2.imencode(".png", big)
    if ok:
        write_atomic(path, encoded.tobytes())


def write_report(
    out_dir: Path,
    command: str,
    facts: dict[str, str],
    evaluations: list[tuple[Evaluation, str]],
    style_samples: str | None = None,
) -> Path:
    """report.md: what ran, where, and how well; ``evaluations`` pairs each result with its PNG name;
    ``style_samples``, the PNG of the writing styles the run added (train/styles.py), if any."""
    lines = ["# Training report", "", f"`{command}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    if style_samples:
        lines += ["", "## Writing styles added to MNIST", "",
                  "Each row: every drawn glyph style of the digit, then MNIST examples given a style "
                  "(train/styles.py). These are drawn afresh every epoch.", "",
                  f"![writing styles]({style_samples})"]
    lines += ["", "## Accuracy", ""]
    lines += [_evaluation_section(evaluation, image) for evaluation, image in evaluations]
    lines += ["## Loss curves", "", "![loss and accuracy per epoch](loss.png)", "",
              "TensorBoard: `tensorboard --logdir " + str(out_dir / "logs") + "`", ""]
    path = out_dir / "report.md"
    write_atomic(path, "\n".join(lines))
    return path
