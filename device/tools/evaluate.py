"""``device eval``: accuracy of a TFLite model on labelled digits, and the project's one confusion matrix.

The digits come through the shared data layer (``device.data.digitsets.load_digits``, test part of a
Keras-layout file), so ``device eval`` sees a file exactly as ``train`` does, and reads each digit as the
reader does: unsure digits get a second look at two more stroke widths (``device.recognition.ensemble``),
and the non-digit class is decided by ``device.recognition.decision``. ``Evaluation`` is also what ``train``
reports: one place computes accuracy, per-class figures and the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.common.shapes import NON_DIGIT_LABEL, NUM_CLASSES
from device.data.digitsets import DigitSet, load_digits
from device.recognition.decision import decided_classes
from device.recognition.ensemble import read_probabilities
from device.recognition.runtime import TFLiteModel

BATCH = 256


@dataclass(frozen=True)
class Evaluation:
    """Predictions against labels: rows of ``confusion`` are the true digit, columns the predicted one."""

    name: str
    confusion: np.ndarray  # (10, 10) int64; (10, 11) when the model has the non-digit class (last column)
    preparation: str = ""  # how the images came: "mnist" (kept as they were) or "normalized" (as camera crops)

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        """Fraction correct, 0..1 (0 for no digits)."""
        return self.correct / self.count if self.count else 0.0

    @property
    def per_class_count(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def per_class(self) -> np.ndarray:
        """Accuracy of each true digit, 0..1 (0 where a digit has no examples)."""
        totals = self.per_class_count
        return np.divide(np.diag(self.confusion), totals, out=np.zeros(NUM_CLASSES), where=totals > 0)

    def table(self) -> str:
        """Accuracy and the per-class table as text."""
        prepared = {"mnist": "  (images already MNIST-style)",
                    "normalized": "  (images normalised as camera crops)"}.get(self.preparation, "")
        lines = [
            f"accuracy: {self.correct}/{self.count} = {100 * self.accuracy:.2f} %{prepared}",
            "digit  count  correct  accuracy  most confused with",
        ]
        for d in range(NUM_CLASSES):
            n, ok = int(self.per_class_count[d]), int(self.confusion[d, d])
            row = self.confusion[d].copy()
            row[d] = 0
            worst = int(row.argmax())
            confused = f"{class_name(worst)} ({int(row[worst])})" if row[worst] else "-"
            acc = f"{100 * ok / n:7.2f} %" if n else "      -  "
            lines.append(f"{d:>5}  {n:>5}  {ok:>7}  {acc}  {confused}")
        return "\n".join(lines)


def class_name(index: int) -> str:
    """A class index as text: the digit, or "non-digit" for the extra class."""
    return str(index) if index < NUM_CLASSES else NON_DIGIT_LABEL


def evaluation(name: str, labels: np.ndarray, predicted: np.ndarray, preparation: str = "") -> Evaluation:
    """The confusion matrix of ``predicted`` classes against ``labels`` (digits); a prediction of the
    non-digit class (index 10) counts as a miss and gets a column of its own."""
    predicted = np.asarray(predicted, np.int64)
    columns = NUM_CLASSES + 1 if predicted.size and predicted.max() >= NUM_CLASSES else NUM_CLASSES
    confusion = np.zeros((NUM_CLASSES, columns), np.int64)
    np.add.at(confusion, (np.asarray(labels, np.int64), predicted), 1)
    return Evaluation(name, confusion, preparation)


def load_eval_set(path: str | Path) -> DigitSet:
    """The digits ``device eval`` measures: the set in ``path`` (its test part if it is Keras-layout)."""
    return load_digits(path, part="test")


def evaluate_model(
    model: TFLiteModel, digits: DigitSet, name: str = "", progress: Callable[[int], None] | None = None
) -> Evaluation:
    """Predict every digit in batches; ``progress(n)`` is told how many were done after each batch."""
    predictions = np.empty(len(digits), np.int64)
    for start in range(0, len(digits), BATCH):
        chunk = digits.x[start : start + BATCH]
        predictions[start : start + len(chunk)] = decided_classes(read_probabilities(model.predict, chunk))
        if progress:
            progress(len(chunk))
    return evaluation(name, digits.y, predictions, digits.style)
