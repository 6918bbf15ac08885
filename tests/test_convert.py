"""convert: Keras -> int8 / float TFLite, the integer-only check, validation before writing, errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from convert import pipeline
from convert.cli import build_parser, main
from convert.converter import float_ops
from convert.pipeline import AccuracyDropError, ConvertOptions, convert_keras_file
from device.recognition.modelinfo import find_model_info, sidecar_path
from device.recognition.preprocess import PREPROCESS_VERSION, prepare_mnist
from device.recognition.runtime import TFLiteModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist_npz(mnist_small, tmp_path_factory) -> Path:
    """The small MNIST as a Keras-layout file, the form `convert --data` reads."""
    path = tmp_path_factory.mktemp("data") / "mnist_small.npz"
    np.savez(path, **mnist_small)
    return path


def _train(model, mnist_small, epochs: int):
    import keras

    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(prepare_mnist(mnist_small["x_train"]), mnist_small["y_train"], batch_size=64, epochs=epochs,
              verbose=0)
    return model


@pytest.fixture(scope="module")
def tiny_keras(mnist_small, tmp_path_factory) -> Path:
    """A small convnet, trained in seconds: enough to exercise every path of convert."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    model = _train(keras.Model(inputs, outputs), mnist_small, epochs=3)
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def paper_int8(mnist_small, mnist_npz, tmp_path_factory):
    """The paper's network (every layer it has), trained briefly and converted to int8."""
    from train.model import build_model

    keras_path = tmp_path_factory.mktemp("paper") / "model.keras"
    model = _train(build_model(), mnist_small, epochs=1)
    model.save(keras_path)
    out = keras_path.parent / "digits_int8.tflite"
    # 500 test digits: one digit is 0.2 points, so the margin is wider than the CLI's default.
    options = ConvertOptions(data_path=mnist_npz, calib_size=200, max_drop_points=1.0, progress=False)
    result = convert_keras_file(keras_path, out, options, log=lambda _: None)
    return model, keras_path, result


def test_paper_network_converts_to_int8_with_integer_ops_only(paper_int8):
    _, _, result = paper_int8
    content = result.tflite_path.read_bytes()
    assert float_ops(content) == []
    assert result.size_bytes == len(content) < 1_000_000


def test_paper_int8_model_loads_in_ai_edge_litert_with_int8_io(paper_int8):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(paper_int8[2].tflite_path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"][1:]) == [28, 28, 1] and list(out["shape"][1:]) == [10]


def test_paper_int8_model_agrees_with_its_keras_model(paper_int8, mnist_small):
    keras_model, _, result = paper_int8
    images = prepare_mnist(mnist_small["x_test"][:300])
    keras_digits = keras_model.predict(images, verbose=0).argmax(axis=1)
    int8_digits = TFLiteModel(result.tflite_path).predict(images).argmax(axis=1)
    assert np.mean(keras_digits == int8_digits) >= 0.98


def test_paper_int8_model_carries_its_metadata(paper_int8):
    _, keras_path, result = paper_int8
    info = find_model_info(result.tflite_path).info
    assert info == result.info
    assert info.preprocess_version == PREPROCESS_VERSION
    assert info.kind == "int8" and info.input_shape == (28, 28, 1) and info.labels == tuple("0123456789")
    runtime = TFLiteModel(result.tflite_path)
    assert info.input_quantization == runtime.input_quantization
    assert info.output_quantization == runtime.output_quantization
    assert info.source_sha256 == hashlib.sha256(keras_path.read_bytes()).hexdigest()
    assert info.accuracy.count == 500
    assert info.accuracy.tflite == pytest.approx(result.check.tflite)
    floor = info.calibration.pop("logit_floor")
    assert isinstance(floor, float) and floor < 0
    assert info.calibration == {"source": "MNIST train", "size": 200, "seed": 0}
    assert "tensorflow" in info.tools and info.created


def test_uint8_io_gives_uint8_tensors_and_the_same_answers(tiny_keras, mnist_npz, mnist_small, tmp_path):
    import keras

    out = tmp_path / "tiny_uint8.tflite"
    code = main([str(tiny_keras), "--int8", "--io", "uint8", "--data", str(mnist_npz), "--calib-size", "100",
                 "-o", str(out), "--quiet"])
    assert code == 0
    runtime = TFLiteModel(out)
    assert runtime.input_dtype == np.uint8 and runtime.metadata.input_quantization.dtype == "uint8"
    assert float_ops(out.read_bytes()) == []
    images = prepare_mnist(mnist_small["x_test"][:200])
    expected = keras.saving.load_model(tiny_keras).predict(images, verbose=0).argmax(axis=1)
    assert np.mean(runtime.predict(images).argmax(axis=1) == expected) >= 0.98


def _builtin_interpreter(path: Path):
    """An interpreter whose op list shows the model's own ops (no XNNPACK delegate nodes)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_path=str(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _logit_scale(path: Path) -> float:
    """Quantization step of the tensor the softmax reads (the int8 logits)."""
    interpreter = _builtin_interpreter(path)
    softmax = next(op for op in interpreter._get_ops_details() if op["op_name"] == "SOFTMAX")
    return float(interpreter._get_tensor_details(int(softmax["inputs"][0]), 0)["quantization"][0])


def test_logit_floor_gives_finer_logit_steps_with_the_same_ops(tiny_keras, mnist_npz, tmp_path):
    floored, full = tmp_path / "floored.tflite", tmp_path / "full.tflite"
    assert main([str(tiny_keras), "--data", str(mnist_npz), "-o", str(floored), "--calib-size", "100", "--quiet"]) == 0
    assert main([str(tiny_keras), "--data", str(mnist_npz), "-o", str(full), "--calib-size", "100", "--quiet",
                 "--no-logit-floor"]) == 0
    assert _logit_scale(floored) < _logit_scale(full)
    assert "logit_floor" in find_model_info(floored).info.calibration
    assert "logit_floor" not in find_model_info(full).info.calibration
    ops = [[op["op_name"] for op in _builtin_interpreter(p)._get_ops_details()] for p in (floored, full)]
    assert ops[0] == ops[1]  # the clamp is fused into FULLY_CONNECTED: no extra op
    assert float_ops(floored.read_bytes()) == []


def test_float_conversion_writes_a_float_model(tiny_keras, mnist_npz, tmp_path):
    out = tmp_path / "tiny_float.tflite"
    assert main([str(tiny_keras), "--float", "--data", str(mnist_npz), "-o", str(out), "--quiet"]) == 0
    runtime = TFLiteModel(out)
    assert runtime.input_dtype == np.float32 and not runtime.is_int8
    assert runtime.metadata.kind == "float32"
    assert runtime.metadata.accuracy.tflite == pytest.approx(runtime.metadata.accuracy.keras, abs=0.002)


def test_a_model_with_the_non_digit_class_converts_with_its_labels(mnist_small, mnist_npz, tmp_path):
    """Eleven outputs: the metadata names the eleventh, calibration includes its examples, the runtime reads it."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = layers.MaxPooling2D(2)(layers.Conv2D(8, 3, activation="relu")(inputs))
    model = _train(keras.Model(inputs, layers.Dense(11, activation="softmax")(layers.Flatten()(x))), mnist_small, 2)
    source, out = tmp_path / "eleven.keras", tmp_path / "eleven_int8.tflite"
    model.save(source)
    assert main([str(source), "--int8", "--data", str(mnist_npz), "--calib-size", "100", "--max-drop", "1",
                 "-o", str(out), "--quiet"]) == 0
    runtime = TFLiteModel(out)
    assert runtime.classes == 11 and runtime.has_non_digit
    assert runtime.metadata.labels == (*"0123456789", "non-digit")
    assert "non-digit" in runtime.metadata.calibration["source"]
    assert runtime.predict(prepare_mnist(mnist_small["x_test"][:8])).shape == (8, 11)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("convert: error:") and "\n" not in err, err
    return err


def test_accuracy_drop_over_the_margin_exits_1_and_writes_nothing(tiny_keras, mnist_npz, tmp_path, capsys):
    out = tmp_path / "out.tflite"
    code = main([str(tiny_keras), "--data", str(mnist_npz), "--calib-size", "50", "--max-drop", "-1",
                 "-o", str(out), "--quiet"])
    assert code == 1
    assert "exceeds the allowed" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_broken_calibration_is_caught_by_the_accuracy_check(tiny_keras, mnist_npz, tmp_path, monkeypatch):
    real = pipeline.mnist_calibration
    # Calibrating on images 50x too dim clips every real input: the int8 model must fail validation.
    monkeypatch.setattr(pipeline, "mnist_calibration", lambda *a, **k: real(*a, **k) * 0.02)
    out = tmp_path / "out.tflite"
    with pytest.raises(AccuracyDropError, match="nothing written"):
        options = ConvertOptions(data_path=mnist_npz, calib_size=100, progress=False)
        convert_keras_file(tiny_keras, out, options, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def _bad_inputs(tmp_path: Path, tiny_keras: Path) -> dict[str, Path]:
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(tiny_keras.read_bytes()[:2000])
    not_keras = tmp_path / "notes.keras"
    not_keras.write_text("these are not weights\n")
    foreign_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(foreign_zip, "w") as archive:
        archive.writestr("readme.txt", "a zip, but not a Keras model")
    return {"truncated": truncated, "not keras": not_keras, "foreign zip": foreign_zip,
            "missing": tmp_path / "absent.keras"}


@pytest.mark.parametrize("kind", ["truncated", "not keras", "foreign zip", "missing"])
def test_unusable_model_file_exits_2_with_one_line_and_no_output(kind, tiny_keras, tmp_path, capsys):
    bad = _bad_inputs(tmp_path, tiny_keras)[kind]
    out = tmp_path / "out.tflite"
    assert main([str(bad), "-o", str(out), "--quiet"]) == 2
    _one_line_error(capsys)
    assert not out.exists() and not sidecar_path(out).exists()


def test_model_with_the_wrong_input_shape_exits_2(tmp_path, capsys):
    import keras

    inputs = keras.Input((32, 32, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    wrong = tmp_path / "wrong.keras"
    keras.Model(inputs, outputs).save(wrong)
    out = tmp_path / "out.tflite"
    assert main([str(wrong), "-o", str(out), "--quiet"]) == 2
    assert "input shape (32, 32, 1)" in _one_line_error(capsys)
    assert not out.exists()


def test_bad_mnist_path_exits_2(tiny_keras, tmp_path, capsys):
    out = tmp_path / "out.tflite"
    assert main([str(tiny_keras), "--data", str(tmp_path / "nope.npz"), "-o", str(out), "--quiet"]) == 2
    assert "nope.npz" in _one_line_error(capsys)
    assert not out.exists()


def test_help_documents_every_option():
    help_text = build_parser().format_help()
    for option in ("--int8", "--float", "-o", "--io", "--calib", "--calib-size", "--seed", "--no-logit-floor",
                   "--data", "--max-drop", "--threads", "--quiet", "MODEL.keras", "Exit codes"):
        assert option in help_text


def test_python_dash_m_convert_help_answers_without_tensorflow():
    done = subprocess.run([sys.executable, "-c", "import sys; from convert.cli import main\n"
                           "try:\n    main(['--help'])\nexcept SystemExit as e:\n"
                           "    print('tensorflow' in sys.modules, e.code)"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip().endswith("False 0")


def test_the_converted_model_is_one_file_with_its_metadata_inside(paper_int8):
    result = paper_int8[2]
    assert sorted(p.name for p in result.tflite_path.parent.iterdir() if p.suffix in (".tflite", ".json")) == [
        result.tflite_path.name]
    found = find_model_info(result.tflite_path)
    assert found.origin == "inside" and found.info == result.info
    assert found.info.preprocess_version == PREPROCESS_VERSION and found.info.format_version == 1
    assert found.info.input_normalisation and found.info.accuracy.count > 0
    assert found.info.training["recipe"] == "unknown" and "--recipe" in found.info.training["recorded_by"]


def test_the_recipe_and_its_data_go_into_the_model(tiny_keras, mnist_npz, tmp_path, capsys):
    out = tmp_path / "named.tflite"
    assert main([str(tiny_keras), "--data", str(mnist_npz), "--calib-size", "50", "--max-drop", "100",
                 "--recipe", "styles", "-o", str(out), "--quiet"]) == 0
    assert "metadata inside" in capsys.readouterr().out
    training = find_model_info(out).info.training
    assert training["recipe"] == "styles" and training["settings"]["style_share"] > 0
    assert training["data"][0]["name"] == "MNIST" and len(training["data"]) == 2
    # a recipe whose settings hold tuples (its real sets) reads back from the file as it was written
    assert main([str(tiny_keras), "--data", str(mnist_npz), "--calib-size", "50", "--max-drop", "100",
                 "--recipe", "reader-real", "-o", str(out), "--quiet"]) == 0
    training = find_model_info(out).info.training
    assert training["settings"]["real_sets"][0] == ["unipen", 1.0]
    assert any("UNIPEN" in d["name"] for d in training["data"]) and len(training["data"]) == 5
    assert main([str(tiny_keras), "--data", str(mnist_npz), "--recipe", "nonsense", "-o", str(out),
                 "--quiet"]) == 2
    assert "unknown recipe 'nonsense'" in _one_line_error(capsys)


def test_the_record_of_trains_config_json_beside_the_model_is_used(tiny_keras, tmp_path):

    from train.provenance import training_record
    from train.recipes import RECIPES

    run = tmp_path / "run"
    run.mkdir()
    model = run / "model.keras"
    model.write_bytes(tiny_keras.read_bytes())
    (run / "config.json").write_text(json.dumps({"recipe": RECIPES["paper"].to_dict(), "seed": 3, "epochs": 30,
                                                 "extra": str(tmp_path / "usps" / "usps.npz")}))
    record = training_record(model)
    assert record["recipe"] == "paper" and record["seed"] == 3 and "config.json" in record["recorded_by"]
    assert "research only (USPS)" in record["data"][-1]["licence"]


def test_a_drop_of_exactly_the_margin_passes():
    from convert.validate import AccuracyCheck

    assert AccuracyCheck(keras=0.9, tflite=0.898, count=500, max_drop_points=0.2).passed
    assert not AccuracyCheck(keras=0.9, tflite=0.896, count=500, max_drop_points=0.2).passed


def test_quant_fidelity_counts_changed_decisions_per_calibration_sample(tiny_keras, mnist_npz, tmp_path,
                                                                        monkeypatch, capsys):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import quant_fidelity

    extra = tmp_path / "extra.npz"
    np.savez(extra, x=np.load(mnist_npz)["x_test"][:40], y=np.load(mnist_npz)["y_test"][:40])
    monkeypatch.setattr(sys, "argv", ["quant_fidelity.py", str(tiny_keras), "--data", str(mnist_npz), "--extra",
                                      str(extra), "--augmented", "60", "--samples", "20:0", "20:1"])
    assert quant_fidelity.main() == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("20:")]
    assert [row[0] for row in rows] == ["20:0", "20:1"]
    for row in rows:  # changed decisions per set, then their sum
        augmented, other, total = (int(v) for v in row[1:])
        assert 0 <= augmented <= 60 and 0 <= other <= 40 and total == augmented + other
