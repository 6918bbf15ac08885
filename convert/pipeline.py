"""The whole conversion: load, calibrate, convert, check integer ops, validate, then write.

Nothing is written until the converted model has passed every check; the ``.tflite`` is then written
atomically, with its metadata inside it (device/recognition/modelinfo.py, convert/embed.py).
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from convert.calibration import digit_set_calibration, mnist_calibration, with_non_digits
from convert.converter import ConvertError, convert_model, float_ops, load_keras_model
from convert.embed import EmbedError, with_model_info
from convert.logit_floor import with_logit_floor
from convert.options import ConvertOptions
from convert.validate import AccuracyCheck, check_accuracy
from device.common.files import file_sha256, write_atomic
from device.common.shapes import INPUT_SHAPE, LABELS, NON_DIGIT_LABEL, NUM_CLASSES
from device.recognition.modelinfo import Accuracy, ModelInfo
from device.recognition.preprocess import INPUT_NORMALISATION, PREPROCESS_VERSION, prepare_mnist
from device.recognition.runtime import ModelError, TFLiteModel

__all__ = ["AccuracyDropError", "ConvertError", "ConvertOptions", "ConvertResult", "convert_keras_file"]


class AccuracyDropError(ConvertError):
    """The converted model lost more accuracy than allowed (exit code 1, not a usage error)."""


@dataclass(frozen=True)
class ConvertResult:
    tflite_path: Path
    info: ModelInfo
    check: AccuracyCheck
    size_bytes: int


def tool_versions() -> dict[str, str]:
    versions = {}
    for package in ("tensorflow", "keras", "ai-edge-litert", "numpy", "opencv-python-headless"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def load_mnist_arrays(data_path: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train images, test images, test labels) of MNIST, uint8 28x28, via train.data."""
    from train.data import DataError, load_mnist

    try:
        mnist = load_mnist(data_path)
    except DataError as exc:
        raise ConvertError(str(exc)) from None
    return mnist.train.x, mnist.test.x, mnist.test.y


def convert_keras_file(model_path: str | Path, out_path: str | Path,
                       options: ConvertOptions | None = None, log=print) -> ConvertResult:
    """Convert ``model_path`` (.keras) to ``out_path`` (.tflite, metadata inside) after validating it.

    ConvertError (one-line message) when the input, data or conversion is unusable;
    AccuracyDropError when the TFLite model loses more than ``options.max_drop_points``.
    Either way nothing is written.
    """
    options = options or ConvertOptions()
    model_path, out_path = Path(model_path), Path(out_path)
    if out_path.suffix != ".tflite":
        raise ConvertError(f"output must end in .tflite, got {out_path}")
    if not out_path.parent.is_dir():
        raise ConvertError(f"output folder does not exist: {out_path.parent}")
    model = load_keras_model(model_path)
    training = _training_record(model_path, options.recipe)
    train_x, test_x, test_y = load_mnist_arrays(options.data_path)
    non_digit = int(model.outputs[0].shape[-1]) == NUM_CLASSES + 1
    labels = (*LABELS, NON_DIGIT_LABEL) if non_digit else LABELS

    calibration = None
    calibration_record: dict = {}
    if options.kind == "int8":
        if options.calib_path is not None:
            from train.data import DataError

            try:
                calibration = digit_set_calibration(options.calib_path, options.calib_size, options.seed)
            except DataError as exc:
                raise ConvertError(str(exc)) from None
            source = str(options.calib_path)
        else:
            calibration = mnist_calibration(train_x, options.calib_size, options.seed)
            source = "MNIST train"
        if non_digit:
            calibration = with_non_digits(calibration, train_x, options.seed)
            source += " and non-digit examples (train/negatives.py)"
        calibration_record = {"source": source, "size": len(calibration), "seed": options.seed}
        log(f"calibrating on {len(calibration)} images from {source} (seed {options.seed})")

    to_convert = model
    if options.kind == "int8" and options.logit_floor:
        to_convert, floor = with_logit_floor(model, calibration)
        if floor is None:
            log("logit floor: skipped (the model does not end in a Dense layer and a softmax)")
        else:
            calibration_record["logit_floor"] = round(floor, 4)
            log(f"logit floor: {floor:.2f} (logits below it are clamped; see convert/logit_floor.py)")

    log(f"converting {model_path} to {options.kind} TFLite")
    tflite_bytes = convert_model(to_convert, options.kind, options.io_type, calibration, options.progress)
    if options.kind == "int8":
        not_integer = float_ops(tflite_bytes)
        if not_integer:
            raise ConvertError(f"int8 model still has float ops: {', '.join(not_integer)}")

    test_images = prepare_mnist(test_x)
    with tempfile.TemporaryDirectory(prefix="convert-check-") as tmp:
        candidate = Path(tmp) / out_path.name
        provisional = ModelInfo(preprocess_version=PREPROCESS_VERSION, input_shape=INPUT_SHAPE, labels=labels,
                                kind=options.kind)
        candidate.write_bytes(_embed(tflite_bytes, provisional))  # the runtime reads it as the device will
        try:
            runtime = TFLiteModel(candidate, num_threads=options.num_threads)
            check = check_accuracy(model, runtime, test_images, test_y, options.max_drop_points,
                                   options.progress)
        except ModelError as exc:
            raise ConvertError(f"the converted model does not run on the device runtime: {exc}") from None
    log(check.summary())
    if not check.passed:
        raise AccuracyDropError(f"accuracy drop {check.drop_points:.2f} points exceeds the allowed "
                                f"{options.max_drop_points:.2f}: nothing written")
    if options.kind == "int8" and runtime.input_dtype.name != options.io_type:
        raise ConvertError(f"converted model takes {runtime.input_dtype.name}, not {options.io_type}")

    info = ModelInfo(
        preprocess_version=PREPROCESS_VERSION,
        input_shape=INPUT_SHAPE,
        labels=labels,
        kind=options.kind,
        input_quantization=runtime.input_quantization,
        output_quantization=runtime.output_quantization,
        input_normalisation=dict(INPUT_NORMALISATION),
        accuracy=Accuracy(keras=check.keras, tflite=check.tflite, test_set="MNIST test", count=check.count),
        source_model=model_path.name,
        source_sha256=file_sha256(model_path),
        training=training,
        calibration=calibration_record,
        tools=tool_versions(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    model_file = _embed(tflite_bytes, info)
    write_atomic(out_path, model_file)
    return ConvertResult(out_path, info, check, len(model_file))


def _embed(tflite_bytes: bytes, info: ModelInfo) -> bytes:
    try:
        return with_model_info(tflite_bytes, info)
    except EmbedError as exc:
        raise ConvertError(f"cannot store the metadata in the model: {exc}") from None


def _training_record(model_path: Path, recipe: str | None) -> dict:
    from train.provenance import training_record

    try:
        return training_record(model_path, recipe)
    except ValueError as exc:
        raise ConvertError(str(exc)) from None

