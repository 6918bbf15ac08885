"""Accuracy of a converted model through the device's own runtime, against its Keras model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.common.progress import progress_bar
from device.recognition.decision import decided_classes
from device.recognition.runtime import TFLiteModel

EVAL_BATCH = 256


@dataclass(frozen=True)
class AccuracyCheck:
    """Both accuracies (fractions) on the same preprocessed test images, and the allowed drop."""

    keras: float
    tflite: float
    count: int
    max_drop_points: float

    @property
    def drop_points(self) -> float:
        """Accuracy lost by conversion, in percentage points (negative: the TFLite model is better)."""
        return (self.keras - self.tflite) * 100.0

    @property
    def passed(self) -> bool:
        # Tolerance: a drop of exactly the margin (e.g. 1 of 500 digits = 0.2 points) must pass.
        return self.drop_points <= self.max_drop_points + 1e-9

    def summary(self) -> str:
        return (f"accuracy on {self.count} test images: keras {self.keras * 100:.2f} %, "
                f"tflite {self.tflite * 100:.2f} %, drop {self.drop_points:+.2f} points "
                f"(allowed {self.max_drop_points:.2f})")


def tflite_predictions(model: TFLiteModel, images: np.ndarray, progress: bool = False) -> np.ndarray:
    """Predicted digits of a TFLite model (device.recognition.runtime) on (N, 28, 28, 1) network input."""
    starts = progress_bar(range(0, len(images), EVAL_BATCH), desc="evaluating tflite", unit="batch",
                          leave=False, disable=not progress)
    predicted = [decided_classes(model.predict(images[s : s + EVAL_BATCH])) for s in starts]
    return np.concatenate(predicted) if predicted else np.zeros(0, np.int64)


def keras_predictions(model, images: np.ndarray) -> np.ndarray:
    """Predicted digits of the Keras model on the same network input."""
    return decided_classes(np.asarray(model.predict(images, batch_size=EVAL_BATCH, verbose=0)))


def check_accuracy(keras_model, tflite_model: TFLiteModel, images: np.ndarray, labels: np.ndarray,
                   max_drop_points: float, progress: bool = False) -> AccuracyCheck:
    """Accuracy of both models on ``images`` (already preprocessed) and whether the drop is allowed."""
    labels = np.asarray(labels)
    keras_acc = float(np.mean(keras_predictions(keras_model, images) == labels))
    tflite_acc = float(np.mean(tflite_predictions(tflite_model, images, progress) == labels))
    return AccuracyCheck(keras_acc, tflite_acc, len(labels), max_drop_points)
