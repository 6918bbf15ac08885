"""Run a TFLite digit model (int8 or float) on a batch of preprocessed digits.

The interpreter comes from ai-edge-litert, else tflite-runtime, else (a workstation fallback)
``tensorflow.lite``; the import is guarded so the Pi never needs TensorFlow. ``TFLiteModel`` builds
the interpreter once, checks that the model fits the pipeline (input (N, 28, 28, 1), output
(N, 10) or (N, 11), a known preprocessing version in the metadata inside it, see
device/recognition/modelinfo.py) and quantizes and dequantizes with the model's own scale and zero point.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from device.common.errors import first_line
from device.common.shapes import INPUT_SHAPE, LABELS, NON_DIGIT_LABEL, NUM_CLASSES
from device.common.verbosity import native_stderr_hushed
from device.recognition.modelinfo import (
    FoundInfo,
    ModelInfo,
    ModelInfoError,
    Origin,
    Quantization,
    find_model_info,
    sidecar_path,
)
from device.recognition.preprocess import SUPPORTED_PREPROCESS_VERSIONS

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "digits_int8.tflite"

_log = logging.getLogger(__name__)
_noted_sidecar: set[Path] = set()


class ModelError(Exception):
    """A model that cannot be used here; the message is one line for the user."""


def load_interpreter_class() -> tuple[type, str]:
    """The best TFLite interpreter installed: (Interpreter class, runtime name)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError:
        pass
    try:
        # Last resort on a workstation: TensorFlow is heavy and never needed on the Pi.
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow.lite"
    except ImportError:
        raise ModelError("no TFLite runtime installed: pip install ai-edge-litert "
                         "(or tflite-runtime on 32-bit Raspberry Pi OS)") from None


KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
_ZIP_MAGIC = b"PK\x03\x04"  # a .keras file is a zip archive
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # the older Keras .h5 format


def check_model_file(path: Path) -> None:
    """ModelError naming the fix for what is not a .tflite file: a folder, a Keras model, nothing at all."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            raise ModelError(f"{path} is a TensorFlow SavedModel folder, not a .tflite file: convert the Keras "
                             f"model it came from with 'convert --int8 MODEL.keras' and give the .tflite it writes")
        models = sorted(p.name for p in path.glob("*.tflite"))
        if not models:
            raise ModelError(f"{path} is a folder with no .tflite model in it: give the path of a .tflite file")
        listed = ", ".join(models[:5]) + (f" and {len(models) - 5} more" if len(models) > 5 else "")
        raise ModelError(f"{path} is a folder, not a model file: it holds {listed}; give one of them, "
                         f"e.g. {path / models[0]}")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b""  # the interpreter will say what is wrong with it
    if path.suffix.lower() in KERAS_SUFFIXES or head.startswith((_ZIP_MAGIC, _HDF5_MAGIC)):
        out = path.with_name(f"{path.stem}_int8.tflite")
        raise ModelError(f"{path} is a Keras model, not a TFLite one: convert it with 'convert --int8 {path} "
                         f"-o {out}' (needs the [train] install) and use {out}")


def _quantization(detail: dict) -> Quantization:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return Quantization(dtype=np.dtype(detail["dtype"]).name, scale=float(scale), zero_point=int(zero_point))


class TFLiteModel:
    """A digit classifier: (N, 28, 28, 1) float32 in [0, 1] -> (N, 10) float32 probabilities, or (N, 11)
    for a model with the "non-digit" class (the last column: a mark that is not one digit)."""

    def __init__(self, path: str | Path | None = None, num_threads: int = 1) -> None:
        self.path = Path(path) if path is not None else DEFAULT_MODEL_PATH
        self.num_threads = num_threads
        check_model_file(self.path)
        found = self._find_metadata()  # before the interpreter: a truncated file gets a clear message
        self.metadata_origin: Origin = found.origin if found else "inside"  # without any, refused below
        interpreter_class, self.runtime_name = load_interpreter_class()
        try:
            # The runtime's C++ logger prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to
            # descriptor 2 here, with no setting to turn it off: hushed unless verbose (device.common.verbosity).
            with native_stderr_hushed():
                self._interpreter = interpreter_class(model_path=str(self.path), num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path} is not a usable TFLite model: {first_line(exc)}") from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.path}: expected one input and one output, "
                             f"got {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0], outputs[0]
        self._check_shapes()
        self.metadata = self._accept_metadata(found)
        self.input_dtype = np.dtype(self._input["dtype"])
        self.input_quantization = _quantization(self._input)
        self.output_quantization = _quantization(self._output)
        self._check_metadata_matches()
        self._batch_size = int(self._input["shape"][0])

    @property
    def labels(self) -> tuple[str, ...]:
        """Class labels, index -> text ("0" ... "9", then "non-digit" if the model has that class)."""
        return self.metadata.labels  # checked against the output size when loading

    @property
    def has_non_digit(self) -> bool:
        """Whether the model has the eleventh class, "non-digit" (``predict``'s last column)."""
        return self.classes == NUM_CLASSES + 1

    @property
    def is_int8(self) -> bool:
        """True for a quantized model (int8 or uint8 input)."""
        return self.input_dtype.kind in "iu"

    def _find_metadata(self) -> FoundInfo | None:
        """The model's metadata (inside it, or an older sidecar); ModelError when it is unreadable."""
        try:
            return find_model_info(self.path)
        except ModelInfoError as exc:
            raise ModelError(str(exc)) from None

    def _accept_metadata(self, found: FoundInfo | None) -> ModelInfo:
        """The metadata, once checked against this device code and the model's own tensors."""
        if found is None:
            raise ModelError(f"{self.path} has no metadata (labels, preprocessing version): convert its Keras "
                             f"model again with 'python -m convert --int8 MODEL.keras', or, for a model from "
                             f"before 2026-12-07, put its .json beside it and run "
                             f"'python -m convert --embed-sidecar {self.path}'")
        info = found.info
        if found.origin == "sidecar" and self.path not in _noted_sidecar:
            _noted_sidecar.add(self.path)
            _log.warning("%s keeps its metadata in the older sidecar %s; make the model one file with "
                         "'python -m convert --embed-sidecar %s'", self.path, sidecar_path(self.path).name,
                         self.path)
        if info.preprocess_version not in SUPPORTED_PREPROCESS_VERSIONS:
            known = ", ".join(sorted(SUPPORTED_PREPROCESS_VERSIONS))
            raise ModelError(f"{self.path} was trained for preprocessing {info.preprocess_version!r}, "
                             f"this device code knows only {known}: update the device software or the model")
        if info.labels not in (LABELS, (*LABELS, NON_DIGIT_LABEL)):
            raise ModelError(f"{self.path}: {self._metadata_where} lists labels {', '.join(info.labels)}; this "
                             f"device code knows 0-9, optionally followed by {NON_DIGIT_LABEL}")
        if len(info.labels) != self.classes:
            raise ModelError(f"{self.path}: {self._metadata_where} lists {len(info.labels)} labels for "
                             f"{self.classes} outputs: {self._metadata_fix}")
        if tuple(info.input_shape) != INPUT_SHAPE:
            raise ModelError(f"{self.path}: {self._metadata_where} gives input shape {list(info.input_shape)}, "
                             f"not {list(INPUT_SHAPE)}: {self._metadata_fix}")
        return info

    def _check_shapes(self) -> None:
        in_shape = tuple(int(v) for v in self._input["shape"])
        out_shape = tuple(int(v) for v in self._output["shape"])
        if len(in_shape) != 4 or in_shape[1:] != INPUT_SHAPE:
            raise ModelError(f"{self.path}: input shape {list(in_shape)} does not take 28x28 grayscale "
                             f"digits (expected [N, 28, 28, 1])")
        if len(out_shape) != 2 or out_shape[1] not in (NUM_CLASSES, NUM_CLASSES + 1):
            raise ModelError(f"{self.path}: output shape {list(out_shape)} is not 10 digit classes "
                             f"(expected [N, 10], or [N, 11] with the non-digit class)")
        self.classes = out_shape[1]

    def _check_metadata_matches(self) -> None:
        """Metadata whose quantization differs from the model's belongs to another model."""
        info = self.metadata
        for name, recorded, actual in (("input", info.input_quantization, self.input_quantization),
                                       ("output", info.output_quantization, self.output_quantization)):
            if recorded is None:
                continue
            same = (recorded.dtype == actual.dtype and recorded.zero_point == actual.zero_point
                    and np.isclose(recorded.scale, actual.scale, rtol=1e-6, atol=0.0))
            if not same:
                raise ModelError(f"{self.path}: {self._metadata_where} describes another model ({name} "
                                 f"quantization {recorded} != {actual}): {self._metadata_fix}")

    @property
    def _metadata_where(self) -> str:
        if self.metadata_origin == "sidecar":
            return f"the sidecar {sidecar_path(self.path).name}"
        return "the metadata inside it"

    @property
    def _metadata_fix(self) -> str:
        if self.metadata_origin == "sidecar":
            return "convert the model again, or remove the stale sidecar and use the model it came with"
        return "convert its Keras model again with 'python -m convert'"

    def _quantize(self, batch: np.ndarray) -> np.ndarray:
        if not self.is_int8:
            return batch.astype(self.input_dtype, copy=False)
        q = self.input_quantization
        info = np.iinfo(self.input_dtype)
        scaled = np.round(batch / np.float32(q.scale)) + q.zero_point
        return np.clip(scaled, info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, raw: np.ndarray) -> np.ndarray:
        q = self.output_quantization
        if np.dtype(raw.dtype).kind not in "iu" or q.scale == 0.0:
            return raw.astype(np.float32, copy=False)
        return ((raw.astype(np.float32) - np.float32(q.zero_point)) * np.float32(q.scale)).astype(np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, 28, 28, 1) float32 in [0, 1] -> (N, classes) float32 probabilities, in one invoke."""
        x = np.asarray(batch, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE:
            raise ValueError(f"expected a batch shaped (N, 28, 28, 1), got {x.shape}")
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, self.classes), np.float32)
        if n != self._batch_size:
            # Re-allocation is costly: only when the batch size changes.
            self._interpreter.resize_tensor_input(self._input["index"], [n, *INPUT_SHAPE], strict=False)
            self._interpreter.allocate_tensors()
            self._batch_size = n
        self._interpreter.set_tensor(self._input["index"], self._quantize(x))
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output["index"])
        return self._dequantize(raw)

    def __repr__(self) -> str:
        return (f"TFLiteModel({str(self.path)!r}, runtime={self.runtime_name!r}, "
                f"input={self.input_dtype.name})")
