"""Evaluation and the run's report: accuracy, confusion matrix and loss-curve PNGs, report.md."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.recognition.modelinfo import new_file_mode


@dataclass(frozen=True)
class Evaluation:
    name: str
    accuracy: float  # 0..1
    confusion: np.ndarray  # (10, 10), rows = true digit, columns = predicted digit

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def per_class(self) -> np.ndarray:
        totals = self.confusion.sum(axis=1)
        return np.divide(np.diag(self.confusion), totals, out=np.zeros(10), where=totals > 0)


def evaluate(name: str, probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    predicted = np.argmax(probabilities, axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return Evaluation(name, float(np.mean(predicted == labels)), confusion)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        mode = new_file_mode(path)
        write(tmp)
        os.chmod(tmp, mode)  # mkstemp makes 0600: keep what a plain open() would give
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def plot_confusion(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    shown = np.log1p(evaluation.confusion)  # the diagonal would drown every mistake
    ax.imshow(shown, cmap="Blues")
    for true in range(10):
        for pred in range(10):
            n = evaluation.confusion[true, pred]
            if n:
                colour = "white" if shown[true, pred] > shown.max() * 0.6 else "black"
                ax.text(pred, true, str(n), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{evaluation.name}: {evaluation.accuracy:.2%} of {evaluation.count:,}")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def read_history(path: Path) -> dict[str, list[float]]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def plot_history(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("loss", "training"), ("val_loss", "MNIST test")):
        if key in history:
            loss_ax.plot(epochs, history[key], marker=".", label=label)
    loss_ax.set_title("loss (cross-entropy + L2)")
    for key, label in (("accuracy", "training"), ("val_accuracy", "MNIST test")):
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
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
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


def write_report(
    out_dir: Path,
    command: str,
    facts: dict[str, str],
    evaluations: list[tuple[Evaluation, str]],
) -> Path:
    """report.md: what ran, where, and how well; ``evaluations`` pairs each result with its PNG name."""
    lines = ["# Training report", "", f"`{command}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    lines += ["", "## Accuracy", ""]
    lines += [_evaluation_section(evaluation, image) for evaluation, image in evaluations]
    lines += ["## Loss curves", "", "![loss and accuracy per epoch](loss.png)", "",
              "TensorBoard: `tensorboard --logdir " + str(out_dir / "logs") + "`", ""]
    path = out_dir / "report.md"
    write_text(path, "\n".join(lines))
    return path
