"""One file is the whole model: the metadata inside the .tflite, written by convert, read by the device.

Round trip, the older sidecar form, a model with no metadata, metadata that lies about the model, a
truncated file, ``device info`` and ``convert --embed-sidecar``.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from convert.embed import EmbedError, with_metadata_entry, with_model_info
from device.cli import main as device_main
from device.recognition.modelinfo import (
    METADATA_NAME,
    Accuracy,
    ModelInfo,
    Quantization,
    embedded_model_info,
    find_model_info,
    sidecar_path,
)
from device.recognition.preprocess import PREPROCESS_VERSION, prepare_mnist
from device.recognition.runtime import DEFAULT_MODEL_PATH, ModelError, TFLiteModel
from device.recognition.tflite_metadata import read_metadata_entries
from tests.model_files import (
    bundled_info_dict,
    model_with_changed_metadata,
    model_with_metadata,
    model_without_metadata,
    old_form_model,
)

SAMPLE = DEFAULT_MODEL_PATH.parents[1] / "samples" / "sample_02.jpg"


def _info() -> ModelInfo:
    return ModelInfo(preprocess_version=PREPROCESS_VERSION, labels=(*"0123456789", "non-digit"),
                     input_quantization=Quantization("int8", 1 / 255, -128),
                     output_quantization=Quantization("int8", 1 / 256, -128),
                     input_normalisation={"values": "float32 in [0, 1]"},
                     accuracy=Accuracy(keras=0.99, tflite=0.991, test_set="MNIST test", count=10000),
                     training={"recipe": "reader", "data": [{"name": "MNIST", "licence": "CC BY-SA 3.0"}]},
                     source_sha256="ab" * 32, calibration={"source": "MNIST train", "size": 5, "seed": 1},
                     tools={"tensorflow": "2.21.0"}, created="2026-01-01T00:00:00+00:00")


# --------------------------------------------------------------------------------------------
# Written by convert, read back with the standard library
# --------------------------------------------------------------------------------------------
def test_model_info_survives_a_round_trip_through_the_model_file():
    info = _info()
    written = with_model_info(DEFAULT_MODEL_PATH.read_bytes(), info)
    assert embedded_model_info(written) == info
    assert dataclasses.asdict(embedded_model_info(written))["training"]["data"][0]["licence"] == "CC BY-SA 3.0"


def test_embedding_again_replaces_the_entry_instead_of_adding_one():
    once = with_model_info(DEFAULT_MODEL_PATH.read_bytes(), _info())
    twice = with_model_info(once, dataclasses.replace(_info(), created="2027-01-01T00:00:00+00:00"))
    assert list(read_metadata_entries(twice)).count(METADATA_NAME) == 1
    assert embedded_model_info(twice).created.startswith("2027")
    assert abs(len(twice) - len(once)) < 16


def test_the_standard_library_reader_agrees_with_tensorflows_schema():
    from tensorflow.lite.python import schema_py_generated as schema

    data = DEFAULT_MODEL_PATH.read_bytes()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    expected = {m.name.decode(): bytes(model.buffers[m.buffer].data) for m in model.metadata}
    assert read_metadata_entries(data) == expected
    assert {"min_runtime_version", "CONVERSION_METADATA", METADATA_NAME} <= set(expected)


def test_the_bundled_model_is_one_file_with_everything_device_info_shows():
    assert not sidecar_path(DEFAULT_MODEL_PATH).exists()
    info = find_model_info(DEFAULT_MODEL_PATH)
    assert info.origin == "inside"
    meta = info.info
    assert meta.labels[-1] == "non-digit" and meta.preprocess_version == PREPROCESS_VERSION
    assert meta.input_normalisation and meta.accuracy.count == 10000
    assert meta.training["recipe"] == "reader-real"
    names = " ".join(d["name"] for d in meta.training["data"])
    assert all(real in names for real in ("UNIPEN", "UJI", "optdigits"))  # the real sets it learned from
    assert meta.training["data"][0]["name"] == "MNIST"
    assert all(d["licence"] for d in meta.training["data"])


def test_the_metadata_adds_less_than_10_kib(tmp_path):
    bare = model_without_metadata(tmp_path / "bare.tflite")
    assert DEFAULT_MODEL_PATH.stat().st_size - bare.stat().st_size < 10 * 1024


def test_the_model_with_metadata_computes_exactly_what_it_did_without(tmp_path, mnist_small):
    images = prepare_mnist(mnist_small["x_test"][:64])
    bare = model_without_metadata(tmp_path / "bare.tflite")
    with_info = model_with_metadata(tmp_path / "with.tflite", _info().to_bytes())
    assert (TFLiteModel(with_info).predict(images) == TFLiteModel(DEFAULT_MODEL_PATH).predict(images)).all()
    assert bare.read_bytes() != DEFAULT_MODEL_PATH.read_bytes()


# --------------------------------------------------------------------------------------------
# The older form, and none at all
# --------------------------------------------------------------------------------------------
def test_an_old_model_with_a_sidecar_loads_with_a_one_line_note_once(tmp_path, caplog, mnist_small):
    model_path = old_form_model(tmp_path / "old.tflite")
    with caplog.at_level(logging.WARNING, logger="device.recognition.runtime"):
        first = TFLiteModel(model_path)
        TFLiteModel(model_path)
    notes = [r.getMessage() for r in caplog.records if "sidecar" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0] and "--embed-sidecar" in notes[0]
    assert first.metadata_origin == "sidecar" and first.labels[-1] == "non-digit"
    assert first.predict(prepare_mnist(mnist_small["x_test"][:4])).shape == (4, 11)


def test_a_model_with_neither_is_refused_naming_the_fix(tmp_path):
    model_path = model_without_metadata(tmp_path / "bare.tflite")
    with pytest.raises(ModelError, match="has no metadata") as err:
        TFLiteModel(model_path)
    assert "python -m convert" in str(err.value) and "--embed-sidecar" in str(err.value)
    assert "\n" not in str(err.value)


def test_metadata_inside_wins_over_a_stale_sidecar(tmp_path):
    model_path = model_with_metadata(tmp_path / "m.tflite", _info().to_bytes())
    sidecar_path(model_path).write_text('{"preprocess_version": "zmg-99"}')
    assert TFLiteModel(model_path).metadata_origin == "inside"


# --------------------------------------------------------------------------------------------
# Metadata that lies, or cannot be read
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "message"), [
    ({"input_shape": [32, 32, 1]}, r"input shape \[32, 32, 1\]"),
    ({"labels": list("0123456789")}, "10 labels for 11 outputs"),
    ({"labels": list("abcdefghijk")}, "knows 0-9"),
    ({"input_quantization": {"dtype": "int8", "scale": 0.5, "zero_point": 3}}, "describes another model"),
    ({"preprocess_version": "zmg-99"}, "'zmg-99'"),
    ({"format_version": 99}, "newer"),
    ({"input_shape": "twenty-eight"}, "malformed model metadata"),
])
def test_metadata_that_lies_about_the_model_is_refused(tmp_path, changes, message):
    model_path = model_with_changed_metadata(tmp_path / "liar.tflite", **changes)
    with pytest.raises(ModelError, match=message) as err:
        TFLiteModel(model_path)
    assert "\n" not in str(err.value)


def test_metadata_that_is_not_json_is_a_model_error(tmp_path):
    model_path = model_with_metadata(tmp_path / "garbled.tflite", b"{not json")
    with pytest.raises(ModelError, match="cannot read the model metadata"):
        TFLiteModel(model_path)


@pytest.mark.parametrize("keep", [0, 7, 100, 4000, 260_000, -3000, -1])
def test_a_truncated_model_is_a_one_line_model_error(tmp_path, keep):
    data = DEFAULT_MODEL_PATH.read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[:keep])
    with pytest.raises(ModelError, match="not a usable TFLite model") as err:
        TFLiteModel(cut)
    assert "\n" not in str(err.value)


def test_embedding_into_bytes_that_are_not_a_model_is_an_embed_error():
    with pytest.raises(EmbedError, match="not a TFLite model"):
        with_metadata_entry(b"\x00" * 64, METADATA_NAME, b"{}")


# --------------------------------------------------------------------------------------------
# The one file works everywhere the model is used
# --------------------------------------------------------------------------------------------
def test_the_model_file_alone_reads_a_still(tmp_path, capsys):
    alone = tmp_path / "copied_to_a_pi.tflite"
    alone.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    assert list(tmp_path.iterdir()) == [alone]
    assert device_main(["read", "--model", str(alone), str(SAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(": 772824") and err == ""


def test_the_model_file_alone_runs_live_with_the_web_view(tmp_path, capsys):
    alone = tmp_path / "copied_to_a_pi.tflite"
    alone.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    demo = SAMPLE.parent / "demo.mp4"
    assert device_main(["live", "--model", str(alone), "--headless", "--serve", "127.0.0.1:0",
                        "--source", str(demo)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["910905"] and "web view at http://127.0.0.1:" in err


def test_the_model_file_alone_evaluates_with_its_eleventh_class(tmp_path, capsys):
    alone = tmp_path / "copied_to_a_pi.tflite"
    alone.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    subset = DEFAULT_MODEL_PATH.parents[2] / "tests" / "data" / "mnist_subset.npz"
    assert device_main(["eval", "--model", str(alone), "--npz", str(subset)]) == 0
    out = capsys.readouterr().out
    assert "accuracy:" in out and TFLiteModel(alone).labels[-1] == "non-digit"


def test_device_info_prints_what_the_model_is(capsys):
    assert device_main(["info", str(DEFAULT_MODEL_PATH)]) == 0
    out = capsys.readouterr().out
    for expected in ("classes: 11: 0 1 2 3 4 5 6 7 8 9 non-digit", f"preprocessing: {PREPROCESS_VERSION}",
                     "input: int8 [1, 28, 28, 1]", "quantization: full-integer int8", "KiB",
                     "recipe reader", "MNIST: CC BY-SA 3.0", "figures: MNIST test (10000 digits)",
                     "metadata inside the file ("):
        assert expected in out, expected


def test_device_info_json_is_the_metadata(capsys):
    assert device_main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metadata_in"] == "inside" and data["labels"] == bundled_info_dict()["labels"]
    assert data["size_bytes"] == DEFAULT_MODEL_PATH.stat().st_size
    assert 500 < data["metadata_bytes"] < 10 * 1024  # the bound: the file grows by under 10 KiB


def test_device_info_on_a_model_without_metadata_is_one_line_and_exit_2(tmp_path, capsys):
    model_path = model_without_metadata(tmp_path / "bare.tflite")
    assert device_main(["info", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no metadata" in err


# --------------------------------------------------------------------------------------------
# convert --embed-sidecar: an old model made one file
# --------------------------------------------------------------------------------------------
def test_embed_sidecar_makes_an_old_model_one_file(tmp_path, capsys):
    from convert.cli import main as convert_main

    model_path = old_form_model(tmp_path / "old.tflite")
    assert convert_main(["--embed-sidecar", str(model_path)]) == 0
    assert "into" in capsys.readouterr().out
    sidecar_path(model_path).unlink()
    model = TFLiteModel(model_path)
    assert model.metadata_origin == "inside"
    assert json.loads(model.metadata.to_json()) == bundled_info_dict()


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(DEFAULT_MODEL_PATH.read_bytes()), "already holds its metadata"),
    (model_without_metadata, "no sidecar"),
    (lambda p: p.write_bytes(b"not a model"), "not a usable TFLite model"),
])
def test_embed_sidecar_refuses_what_it_cannot_do_and_leaves_the_file(tmp_path, capsys, make, message):
    from convert.cli import main as convert_main

    model_path = tmp_path / "m.tflite"
    make(model_path)
    before = model_path.read_bytes()
    assert convert_main(["--embed-sidecar", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert model_path.read_bytes() == before
