"""What a TFLite digit model says about itself, stored inside the ``.tflite`` file.

``convert`` writes a ``ModelInfo`` as UTF-8 JSON into the model's FlatBuffer ``metadata`` list under
``METADATA_NAME`` (convert/embed.py): labels, input size and normalisation, the preprocessing version
it was trained with, the input/output quantization, the training recipe and data with their licences,
and the accuracy its check measured. One file is then the whole model: copying the ``.tflite`` to a Pi
is enough. The device reads it back with the standard library alone (device/recognition/tflite_metadata.py).

Models converted before the metadata moved inside kept it in a JSON sidecar ``<model>.json``; those
still load (``find_model_info`` reports where it came from) until ``convert --embed-sidecar`` moves it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from device.common.shapes import INPUT_SHAPE, LABELS
from device.recognition.tflite_metadata import TFLiteFormatError, read_metadata_entries

METADATA_NAME = "zmg_digits.model_info"  # the FlatBuffer metadata entry that holds the JSON
SIDECAR_SUFFIX = ".json"  # where models from before 2026-12-07 kept the same JSON
FORMAT_VERSION = 1  # bump when a field changes meaning; readers refuse newer formats

Origin = Literal["inside", "sidecar"]


class ModelInfoError(ValueError):
    """Metadata that cannot be read or does not describe a model (one-line message)."""


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
    test_set: str  # what was measured, e.g. "MNIST test"
    count: int


@dataclass(frozen=True)
class ModelInfo:
    """The model's description. Only ``preprocess_version``, ``input_shape`` and ``labels`` are needed to run."""

    preprocess_version: str
    input_shape: tuple[int, ...] = INPUT_SHAPE  # one image, without the batch axis
    labels: tuple[str, ...] = LABELS
    kind: str = "int8"  # "int8" (full-integer) or "float32"
    input_quantization: Quantization | None = None
    output_quantization: Quantization | None = None
    input_normalisation: dict[str, str] = field(default_factory=dict)  # what the input values mean
    accuracy: Accuracy | None = None
    training: dict[str, Any] = field(default_factory=dict)  # recipe, settings, data with licences
    source_model: str = ""  # file name of the .keras it came from
    source_sha256: str = ""
    calibration: dict[str, Any] = field(default_factory=dict)  # source, size, seed of the int8 calibration
    tools: dict[str, str] = field(default_factory=dict)  # tensorflow, keras, ... versions
    created: str = ""  # ISO 8601 UTC
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Pretty JSON text of this record."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, as stored inside the model."""
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode("utf-8")

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
                input_normalisation={str(k): str(v) for k, v in (data.get("input_normalisation") or {}).items()},
                accuracy=_optional(Accuracy, data.get("accuracy")),
                training=dict(data.get("training") or {}),
                source_model=str(data.get("source_model", "")),
                source_sha256=str(data.get("source_sha256", "")),
                calibration=dict(data.get("calibration") or {}),
                tools={str(k): str(v) for k, v in (data.get("tools") or {}).items()},
                created=str(data.get("created", "")),
                format_version=fmt,
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelInfoError(f"malformed model metadata: {exc}") from None

    @classmethod
    def from_json(cls, text: bytes | str, where: str) -> ModelInfo:
        """Parse JSON text; ModelInfoError naming ``where`` when it is not JSON or not a model record."""
        try:
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelInfoError(f"cannot read the model metadata in {where}: {exc}") from None
        try:
            return cls.from_dict(data)
        except ModelInfoError as exc:
            raise ModelInfoError(f"{where}: {exc}") from None


def _optional(kind: type, value: Any) -> Any:
    return None if value is None else kind(**value)


@dataclass(frozen=True)
class FoundInfo:
    """A model's metadata and where it was found."""

    info: ModelInfo
    origin: Origin


def sidecar_path(model_path: str | Path) -> Path:
    """``digits_int8.tflite`` -> ``digits_int8.json`` (same folder): an older model's metadata."""
    return Path(model_path).with_suffix(SIDECAR_SUFFIX)


def embedded_model_info(model_bytes: bytes, where: str = "the model") -> ModelInfo | None:
    """The metadata stored inside a ``.tflite`` file's bytes, or None when it has none.

    ModelInfoError when the bytes are not a whole TFLite model or the metadata is unreadable.
    """
    try:
        entries = read_metadata_entries(model_bytes)
    except TFLiteFormatError as exc:
        raise ModelInfoError(f"{where} is not a usable TFLite model: {exc}") from None
    if METADATA_NAME not in entries:
        return None
    return ModelInfo.from_json(entries[METADATA_NAME], where)


def read_sidecar(model_path: str | Path) -> ModelInfo | None:
    """The sidecar of an older model, or None when there is none; ModelInfoError when unreadable."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ModelInfoError(f"cannot read model metadata {path}: {exc.strerror or exc}") from None
    return ModelInfo.from_json(text, str(path))


def find_model_info(model_path: str | Path) -> FoundInfo | None:
    """The metadata of ``model_path``: inside the file, else in an old sidecar, else None."""
    path = Path(model_path)
    try:
        model_bytes = path.read_bytes()
    except OSError as exc:
        raise ModelInfoError(f"cannot read {path}: {exc.strerror or exc}") from None
    info = embedded_model_info(model_bytes, str(path))
    if info is not None:
        return FoundInfo(info, "inside")
    info = read_sidecar(path)
    return None if info is None else FoundInfo(info, "sidecar")
