"""What travels with a TFLite model: a JSON sidecar ``<model>.json`` beside ``<model>.tflite``.

The sidecar says everything the device needs to use the model correctly (labels, input size, the
preprocessing version it was trained with, the input/output quantization) and what it is worth
(its measured accuracy, the source ``.keras`` file's sha256, the tool versions that made it).
A sidecar instead of TFLite's embedded metadata because a Pi can read it with the standard
library alone and a person can read it with ``cat``. Written by ``convert``, read by
``device.recognition.runtime``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from device.common.files import write_atomic
from device.common.shapes import INPUT_SHAPE, LABELS

SIDECAR_SUFFIX = ".json"
FORMAT_VERSION = 1  # bump when a field changes meaning; readers refuse newer formats


class ModelInfoError(ValueError):
    """A sidecar that cannot be read or does not describe a model (one-line message)."""


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of one tensor: real = (q - zero_point) * scale; scale 0 means float."""

    dtype: str  # numpy dtype name: "int8", "uint8" or "float32"
    scale: float = 0.0
    zero_point: int = 0


@dataclass(frozen=True)
class Accuracy:
    """Accuracy measured by ``convert`` on a labelled test set, as fractions in [0, 1]."""

    keras: float  # the source Keras model, on the same preprocessed images
    tflite: float  # this model through device.recognition.runtime
    test_set: str  # what was measured, e.g. "MNIST test (10000)"
    count: int


@dataclass(frozen=True)
class ModelInfo:
    """The sidecar's content. Only ``preprocess_version`` and ``input_shape`` are needed to run."""

    preprocess_version: str
    input_shape: tuple[int, ...] = INPUT_SHAPE  # one image, without the batch axis
    labels: tuple[str, ...] = LABELS
    kind: str = "int8"  # "int8" (full-integer) or "float32"
    input_quantization: Quantization | None = None
    output_quantization: Quantization | None = None
    accuracy: Accuracy | None = None
    source_model: str = ""  # file name of the .keras it came from
    source_sha256: str = ""
    calibration: dict[str, Any] = field(default_factory=dict)  # source, size, seed of the int8 calibration
    tools: dict[str, str] = field(default_factory=dict)  # tensorflow, keras, ... versions
    created: str = ""  # ISO 8601 UTC
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Pretty JSON text of this record."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Build from parsed JSON; ModelInfoError when required fields are missing or malformed."""
        if not isinstance(data, dict):
            raise ModelInfoError("model metadata is not a JSON object")
        fmt = data.get("format_version", FORMAT_VERSION)
        if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
            raise ModelInfoError(f"model metadata format {fmt!r} is newer than this device code understands "
                                 f"({FORMAT_VERSION}); update the device software")
        if not isinstance(data.get("preprocess_version"), str):
            raise ModelInfoError("model metadata lacks 'preprocess_version'")
        try:
            return cls(
                preprocess_version=data["preprocess_version"],
                input_shape=tuple(int(v) for v in data.get("input_shape", INPUT_SHAPE)),
                labels=tuple(str(v) for v in data.get("labels", LABELS)),
                kind=str(data.get("kind", "int8")),
                input_quantization=_optional(Quantization, data.get("input_quantization")),
                output_quantization=_optional(Quantization, data.get("output_quantization")),
                accuracy=_optional(Accuracy, data.get("accuracy")),
                source_model=str(data.get("source_model", "")),
                source_sha256=str(data.get("source_sha256", "")),
                calibration=dict(data.get("calibration") or {}),
                tools={str(k): str(v) for k, v in (data.get("tools") or {}).items()},
                created=str(data.get("created", "")),
                format_version=fmt,
            )
        except (TypeError, ValueError) as exc:
            raise ModelInfoError(f"malformed model metadata: {exc}") from None


def _optional(kind: type, value: Any) -> Any:
    return None if value is None else kind(**value)


def sidecar_path(model_path: str | Path) -> Path:
    """``digits_int8.tflite`` -> ``digits_int8.json`` (same folder)."""
    return Path(model_path).with_suffix(SIDECAR_SUFFIX)


def read_model_info(model_path: str | Path) -> ModelInfo | None:
    """The sidecar of ``model_path``, or None when there is none; ModelInfoError when unreadable."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelInfoError(f"cannot read model metadata {path}: {exc}") from None
    return ModelInfo.from_dict(data)


def write_model_info(model_path: str | Path, info: ModelInfo) -> Path:
    """Write the sidecar of ``model_path`` atomically; returns its path."""
    path = sidecar_path(model_path)
    write_atomic(path, info.to_json().encode("utf-8"))
    return path

