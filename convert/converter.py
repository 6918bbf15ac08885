"""Keras 3 model -> TFLite bytes (float32 or full-integer int8), and the integer-only check.

Route: ``model.export(dir, format="tf_saved_model")`` then ``tf.lite.TFLiteConverter.from_saved_model``.
``TFLiteConverter.from_keras_model`` does not work with Keras 3 models (TF >= 2.16). Keras' own
``model.export(path, format="litert")`` takes this same route inside, but writes straight to a file
(no bytes to validate first) and allows SELECT_TF_OPS by default, so we drive the converter
ourselves. See docs/convert.md.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from convert.options import IoType, Kind
from device.common.errors import first_line
from device.common.progress import progress_bar
from device.common.shapes import INPUT_SHAPE, NUM_CLASSES

FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")


class ConvertError(Exception):
    """A model that cannot be converted; the message is one line for the user."""


def load_keras_model(path: str | Path):  # -> keras.Model (keras is imported lazily: it is slow)
    """Load a ``.keras`` file for conversion: the classifier part only, checked for shape.

    ConvertError for a missing, corrupt or non-Keras file, or a model that does not map
    (N, 28, 28, 1) images to (N, 10) probabilities.
    """
    import keras

    from train.model import classifier_only

    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"model file not found: {path}")
    if path.suffix != ".keras":
        raise ConvertError(f"{path}: expected a Keras 3 model file ending in .keras")
    if not zipfile.is_zipfile(path):  # Keras would say "file not found" about a truncated file
        raise ConvertError(f"{path} is not a Keras model (not a .keras zip archive; truncated or corrupt?)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # corrupt zips, wrong formats and unknown layers all raise differently
        raise ConvertError(f"{path} is not a readable Keras model: {first_line(exc)}") from None
    if not isinstance(model, keras.Model):
        raise ConvertError(f"{path} holds a {type(model).__name__}, not a Keras model")
    try:
        model = classifier_only(model)
    except ValueError as exc:
        raise ConvertError(f"{path}: cannot find the classifier output: {first_line(exc)}") from None
    check_model_shape(model, str(path))
    return model


def check_model_shape(model, source: str) -> None:
    """ConvertError unless ``model`` takes (N, 28, 28, 1) and gives (N, 10), or (N, 11) with the non-digit class."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConvertError(f"{source}: expected one input and one output, got "
                           f"{len(model.inputs)} and {len(model.outputs)}")
    in_shape = tuple(model.inputs[0].shape[1:])
    out_shape = tuple(model.outputs[0].shape[1:])
    if in_shape != INPUT_SHAPE:
        raise ConvertError(f"{source}: input shape {in_shape} is not {INPUT_SHAPE} (28x28 grayscale digits)")
    if out_shape not in ((NUM_CLASSES,), (NUM_CLASSES + 1,)):
        raise ConvertError(f"{source}: output shape {out_shape} is not ({NUM_CLASSES},) digit probabilities "
                           f"(or ({NUM_CLASSES + 1},) with the non-digit class)")


def representative_dataset(images: np.ndarray, progress: bool = False) -> Callable[[], Iterator[list]]:
    """The converter's calibration feed: one preprocessed (1, 28, 28, 1) float32 image at a time."""
    images = np.asarray(images, dtype=np.float32)

    def feed() -> Iterator[list]:
        for image in progress_bar(images, desc="calibrating", unit="img", leave=False, disable=not progress):
            yield [image[None]]

    return feed


def convert_model(model, kind: Kind = "int8", io_type: IoType = "int8",
                  calibration: np.ndarray | None = None, progress: bool = False) -> bytes:
    """Convert a Keras model to TFLite bytes.

    ``kind="int8"``: int8 weights and activations, only integer builtin ops, ``io_type`` input
    and output, activation ranges calibrated on ``calibration`` (N, 28, 28, 1) float32 in [0, 1],
    preprocessed exactly as on the device. ``kind="float32"``: a plain float model.
    """
    import tensorflow as tf

    if kind not in ("int8", "float32"):
        raise ValueError(f"kind must be 'int8' or 'float32', got {kind!r}")
    if kind == "int8" and (calibration is None or len(calibration) == 0):
        raise ConvertError("int8 conversion needs calibration images")
    with tempfile.TemporaryDirectory(prefix="convert-savedmodel-") as saved_model_dir:
        model.export(saved_model_dir, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        if kind == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative_dataset(calibration, progress)
            # INT8 builtins only: conversion fails rather than silently keeping a float op.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io_dtype = tf.int8 if io_type == "int8" else tf.uint8
            converter.inference_input_type = io_dtype
            converter.inference_output_type = io_dtype
        try:
            return converter.convert()
        except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError ...
            raise ConvertError(f"TFLite conversion failed: {first_line(exc)}") from None


def float_ops(tflite_model: bytes) -> list[str]:
    """Ops of a TFLite model that read or write a floating-point tensor, e.g. ``["DEQUANTIZE#3"]``.

    Empty for a full-integer model. Inspected without delegates, so XNNPACK's fused nodes do not
    hide the real ops.
    """
    from device.recognition.runtime import load_interpreter_class

    interpreter_class, _ = load_interpreter_class()
    kwargs = {}
    try:
        # Builtin ops only: the default XNNPACK delegate would replace ops by DELEGATE nodes.
        from ai_edge_litert.interpreter import OpResolverType

        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    except ImportError:
        pass
    interpreter = interpreter_class(model_content=tflite_model, **kwargs)
    tensor_dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():  # private but stable; the analyzer needs TensorFlow
        if op["op_name"] == "DELEGATE":
            continue
        if "operand_types" in op:
            dtypes = [*op["operand_types"], *op["result_types"]]
        else:  # older runtimes: look the tensors up
            indices = [int(i) for i in (*op["inputs"], *op["outputs"]) if int(i) >= 0]
            dtypes = [tensor_dtypes[i] for i in indices if i in tensor_dtypes]
        types = [np.dtype(t).name for t in dtypes]
        if any(t in FLOAT_DTYPES for t in types):
            found.append(f"{op['op_name']}#{op['index']}")
    return found

