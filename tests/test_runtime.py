"""device.recognition.runtime: loading, checking and running a TFLite digit model (metadata: test_model_metadata.py)."""

from __future__ import annotations

import numpy as np
import pytest

from device.recognition.preprocess import PREPROCESS_VERSION, prepare_mnist
from device.recognition.runtime import DEFAULT_MODEL_PATH, ModelError, TFLiteModel, load_interpreter_class


def test_interpreter_comes_from_ai_edge_litert_when_installed():
    interpreter_class, name = load_interpreter_class()
    assert name == "ai-edge-litert"
    assert interpreter_class.__module__.startswith("ai_edge_litert")


def test_bundled_default_model_loads_with_its_metadata():
    model = TFLiteModel()
    assert model.path == DEFAULT_MODEL_PATH
    assert model.metadata_origin == "inside"
    assert model.metadata.preprocess_version == PREPROCESS_VERSION
    assert model.labels == (*"0123456789", "non-digit")
    assert model.is_int8 and model.input_dtype == np.int8
    assert model.metadata.input_quantization == model.input_quantization


def test_bundled_default_model_reads_mnist_digits(mnist_small):
    model = TFLiteModel()
    probs = model.predict(prepare_mnist(mnist_small["x_test"][:200]))
    assert probs.shape == (200, 11) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)  # int8 softmax steps are 1/256
    assert np.mean(probs.argmax(axis=1) == mnist_small["y_test"][:200]) >= 0.95


def test_predict_gives_the_same_answer_whatever_the_batch_size(mnist_small):
    model = TFLiteModel()
    images = prepare_mnist(mnist_small["x_test"][:32])
    batched = model.predict(images)
    one_by_one = np.concatenate([model.predict(images[i : i + 1]) for i in range(len(images))])
    np.testing.assert_array_equal(batched, one_by_one)
    np.testing.assert_array_equal(model.predict(images), batched)  # back to 32 after resizing to 1


def test_predict_on_an_empty_batch_returns_no_rows():
    assert TFLiteModel().predict(np.zeros((0, 28, 28, 1), np.float32)).shape == (0, 11)


def test_predict_refuses_a_batch_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        TFLiteModel().predict(np.zeros((4, 28, 28), np.float32))


def test_missing_model_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        TFLiteModel(tmp_path / "absent.tflite")


def test_corrupt_model_file_is_a_one_line_model_error(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(DEFAULT_MODEL_PATH.read_bytes()[:1000])
    with pytest.raises(ModelError, match="not a usable TFLite model") as err:
        TFLiteModel(broken)
    assert "\n" not in str(err.value)


def test_model_with_the_wrong_input_shape_is_refused(tmp_path):
    import keras
    import tensorflow as tf

    inputs = keras.Input((32, 32, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    saved = tmp_path / "saved"
    keras.Model(inputs, outputs).export(saved, format="tf_saved_model", verbose=False)
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
    with pytest.raises(ModelError, match=r"input shape \[1, 32, 32, 1\]"):
        TFLiteModel(wrong)
