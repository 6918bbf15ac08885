"""Write a ``ModelInfo`` into a TFLite model's own FlatBuffer ``metadata`` (the device reads it back).

TFLite models carry a list of named metadata entries, each pointing to a buffer (the converter already
adds ``min_runtime_version`` and ``CONVERSION_METADATA``); ours is one more, ``METADATA_NAME``, holding
the JSON of device/recognition/modelinfo.py. Rewriting the FlatBuffer needs TensorFlow's generated
schema, so this lives on the workstation side; reading it needs nothing (device/recognition/tflite_metadata.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from device.recognition.modelinfo import METADATA_NAME, ModelInfo, ModelInfoError, embedded_model_info
from device.recognition.tflite_metadata import TFLITE_IDENTIFIER


class EmbedError(ValueError):
    """Bytes that cannot be given metadata (one-line message)."""


def with_model_info(tflite_bytes: bytes, info: ModelInfo) -> bytes:
    """``tflite_bytes`` with ``info`` stored inside, replacing any earlier entry of ours; weights unchanged."""
    written = with_metadata_entry(tflite_bytes, METADATA_NAME, info.to_bytes())
    try:
        read_back = embedded_model_info(written)
    except ModelInfoError as exc:
        raise EmbedError(f"the model with metadata does not read back: {exc}") from None
    if read_back != info:
        raise EmbedError("the metadata written into the model reads back different")
    return written


def with_metadata_entry(tflite_bytes: bytes, name: str, payload: bytes | None) -> bytes:
    """``tflite_bytes`` with the metadata entry ``name`` set to ``payload`` (None: removed), unchecked."""
    from tensorflow.lite.python import schema_py_generated as schema

    if tflite_bytes[4:8] != TFLITE_IDENTIFIER:
        raise EmbedError("not a TFLite model (no TFL3 identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(tflite_bytes), 0)
    except Exception as exc:  # the generated reader raises whatever the bytes make it trip on
        raise EmbedError(f"not a TFLite model: {exc}") from None
    entries = list(model.metadata or [])
    ours = [entry for entry in entries if _name(entry) == name]
    data = None if payload is None else np.frombuffer(payload, dtype=np.uint8)
    if ours:  # its buffer is reused (emptied when removing): renumbering buffers would touch every tensor
        model.buffers[ours[0].buffer].data = data
        if payload is None:
            entries = [entry for entry in entries if _name(entry) != name]
    elif payload is not None:
        buffer = schema.BufferT()
        buffer.data = data
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        entries.append(entry)
    model.metadata = entries or None
    return _pack(model)


def _name(entry) -> str:
    name = entry.name
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def embed_sidecar(model_path: Path) -> ModelInfo:
    """Move an older model's sidecar metadata into the model file itself (atomically); returns it.

    The model is checked on the device runtime with the metadata inside before it replaces the old file;
    the sidecar is left where it is (the model no longer reads it). EmbedError when there is nothing to
    embed or the result would not load.
    """
    from device.common.files import write_atomic
    from device.recognition.modelinfo import read_sidecar, sidecar_path
    from device.recognition.runtime import ModelError, TFLiteModel, check_model_file

    try:
        check_model_file(model_path)
        model_bytes = model_path.read_bytes()
        if embedded_model_info(model_bytes, str(model_path)) is not None:
            raise EmbedError(f"{model_path} already holds its metadata inside: nothing to do")
        info = read_sidecar(model_path)
    except (ModelError, ModelInfoError) as exc:
        raise EmbedError(str(exc)) from None
    except OSError as exc:
        raise EmbedError(f"cannot read {model_path}: {exc.strerror or exc}") from None
    if info is None:
        raise EmbedError(f"{model_path} has no sidecar {sidecar_path(model_path).name} to embed: convert its "
                         f"Keras model again instead")
    written = with_model_info(model_bytes, info)
    with tempfile.TemporaryDirectory(prefix="embed-check-") as tmp:
        candidate = Path(tmp) / model_path.name
        candidate.write_bytes(written)
        try:
            TFLiteModel(candidate)
        except ModelError as exc:
            raise EmbedError(f"{model_path} with its sidecar inside does not load: {exc}") from None
    write_atomic(model_path, written)
    return info
