"""Read the named metadata entries of a ``.tflite`` file with the standard library alone.

A TFLite model is a FlatBuffer (tensorflow/compiler/mlir/lite/schema/schema.fbs) whose root ``Model``
table lists ``metadata``: (name, buffer index) pairs pointing into its ``buffers``. ``convert`` stores
the model's description there (device/recognition/modelinfo.py); the Python interpreters
(ai-edge-litert, tflite-runtime) run the model but do not expose these entries, and the Pi should not
need the ``flatbuffers`` package or TensorFlow's generated schema to read them, so this module walks
the few tables it needs itself, checking every offset against the file's length.
"""

from __future__ import annotations

import struct
from pathlib import Path

TFLITE_IDENTIFIER = b"TFL3"  # FlatBuffer file identifier of TFLite models, bytes 4..8

# Field indices in schema.fbs (the vtable slot is 4 + 2 * index).
_MODEL_BUFFERS = 4
_MODEL_METADATA = 6
_METADATA_NAME = 0
_METADATA_BUFFER = 1
_BUFFER_DATA = 0
_BUFFER_OFFSET = 1
_BUFFER_SIZE = 2


class TFLiteFormatError(ValueError):
    """Bytes that are not a whole TFLite FlatBuffer (one-line message)."""


class _Reader:
    """Bounds-checked little-endian reads from the model's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def unpack(self, fmt: str, pos: int) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise TFLiteFormatError(f"offset {pos} is past the end of the file ({len(self.data)} bytes): "
                                    "the file is truncated or not a TFLite model")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def indirect(self, pos: int) -> int:
        """Follow the uoffset stored at ``pos``."""
        return pos + self.unpack("<I", pos)

    def field_pos(self, table: int, index: int) -> int | None:
        """Where field ``index`` of the table at ``table`` is stored, or None when absent."""
        vtable = table - self.unpack("<i", table)
        vtable_size = self.unpack("<H", vtable)
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return None
        offset = self.unpack("<H", vtable + slot)
        return table + offset if offset else None

    def scalar(self, table: int, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field_pos(table, index)
        return default if pos is None else self.unpack(fmt, pos)

    def vector(self, table: int, index: int) -> tuple[int, int] | None:
        """(position of the first element, length) of a vector field, or None when absent."""
        pos = self.field_pos(table, index)
        if pos is None:
            return None
        start = self.indirect(pos)
        length = self.unpack("<I", start)
        return start + 4, length

    def table_at(self, element: int) -> int:
        """The table a vector-of-tables element at ``element`` points to."""
        return self.indirect(element)

    def bytes_of(self, start: int, length: int) -> bytes:
        if start + length > len(self.data):
            raise TFLiteFormatError(f"a {length}-byte block at offset {start} is past the end of the file "
                                    f"({len(self.data)} bytes): the file is truncated")
        return self.data[start:start + length]


def read_metadata_entries(data: bytes) -> dict[str, bytes]:
    """The model's metadata entries, name -> content; TFLiteFormatError when ``data`` is not a TFLite model."""
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise TFLiteFormatError("not a TFLite model (no TFL3 identifier)")
    reader = _Reader(data)
    model = reader.indirect(0)
    entries = reader.vector(model, _MODEL_METADATA)
    if entries is None:
        return {}
    buffers = reader.vector(model, _MODEL_BUFFERS)
    buffer_count = buffers[1] if buffers else 0
    found: dict[str, bytes] = {}
    first, count = entries
    for i in range(count):
        entry = reader.table_at(first + 4 * i)
        name_pos = reader.field_pos(entry, _METADATA_NAME)
        if name_pos is None:
            continue
        name_start = reader.indirect(name_pos)
        name = reader.bytes_of(name_start + 4, reader.unpack("<I", name_start)).decode("utf-8", "replace")
        index = reader.scalar(entry, _METADATA_BUFFER, "<I")
        if buffers is None or index >= buffer_count:
            raise TFLiteFormatError(f"metadata {name!r} points to buffer {index} of {buffer_count}")
        found[name] = _buffer_content(reader, reader.table_at(buffers[0] + 4 * index))
    return found


def _buffer_content(reader: _Reader, buffer: int) -> bytes:
    """A Buffer's bytes: inline, or (models over 2 GB) at an absolute offset after the FlatBuffer."""
    inline = reader.vector(buffer, _BUFFER_DATA)
    if inline is not None:
        return reader.bytes_of(*inline)
    offset = reader.scalar(buffer, _BUFFER_OFFSET, "<Q")
    size = reader.scalar(buffer, _BUFFER_SIZE, "<Q")
    return reader.bytes_of(offset, size) if offset > 1 else b""


def read_metadata_file(path: str | Path) -> dict[str, bytes]:
    """``read_metadata_entries`` of a file; OSError when it cannot be read."""
    return read_metadata_entries(Path(path).read_bytes())
