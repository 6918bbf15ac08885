"""Copies of the bundled model with their metadata changed, removed or moved to an old sidecar (tests only).

Editing a model's metadata rewrites its FlatBuffer, which needs TensorFlow (convert/embed.py), as
``convert`` does; the device only reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from device.recognition.modelinfo import METADATA_NAME, embedded_model_info, sidecar_path
from device.recognition.runtime import DEFAULT_MODEL_PATH


def bundled_info_dict() -> dict[str, Any]:
    """The bundled model's metadata, as JSON-ready data."""
    info = embedded_model_info(DEFAULT_MODEL_PATH.read_bytes())
    assert info is not None, "the bundled model carries its metadata"
    return json.loads(info.to_json())


def model_with_metadata(target: Path, payload: bytes) -> Path:
    """The bundled model at ``target`` with ``payload`` (any bytes) as its metadata."""
    from convert.embed import with_metadata_entry

    target.write_bytes(with_metadata_entry(DEFAULT_MODEL_PATH.read_bytes(), METADATA_NAME, payload))
    return target


def model_with_changed_metadata(target: Path, **changes: Any) -> Path:
    """The bundled model at ``target``, its metadata's fields changed as given (lies included)."""
    return model_with_metadata(target, json.dumps({**bundled_info_dict(), **changes}).encode())


def model_without_metadata(target: Path) -> Path:
    """The bundled model at ``target`` with our metadata entry removed: a model from before 2026-12-07."""
    from convert.embed import with_metadata_entry

    target.write_bytes(with_metadata_entry(DEFAULT_MODEL_PATH.read_bytes(), METADATA_NAME, None))
    return target


def old_form_model(target: Path) -> Path:
    """A model as ``convert`` wrote it before 2026-12-07: no metadata inside, a JSON sidecar beside it."""
    model_without_metadata(target)
    sidecar_path(target).write_text(json.dumps(bundled_info_dict(), indent=2))
    return target
