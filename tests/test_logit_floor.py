"""convert/logit_floor.py: clamping hopeless logits keeps every prediction and gives int8 finer steps."""

from __future__ import annotations

import numpy as np
import pytest

from convert.logit_floor import FLOOR_MARGIN, calibration_floor, logits_dense, with_logit_floor
from device.recognition.preprocess import prepare_mnist

pytestmark = pytest.mark.slow


def _logits(model, dense, images: np.ndarray) -> np.ndarray:
    import keras

    kernel, bias = dense.get_weights()
    features = keras.Model(model.inputs, dense.input).predict(images, verbose=0)
    return features @ kernel + bias


@pytest.fixture(scope="module")
def paper_model():
    import keras

    from train.model import build_model

    keras.utils.set_random_seed(0)
    return build_model()


def test_floor_is_the_weakest_winner_minus_the_margin():
    assert calibration_floor(np.array([3.5, 7.0, 12.0])) == pytest.approx(3.5 - FLOOR_MARGIN)
    assert calibration_floor(np.array([2.0]), margin=4.0) == pytest.approx(-2.0)


def test_paper_network_keeps_its_predictions_and_probabilities(paper_model, mnist_small):
    calibration = prepare_mnist(mnist_small["x_train"][:100])
    images = prepare_mnist(mnist_small["x_test"][:200])
    floored, floor = with_logit_floor(paper_model, calibration)

    dense = logits_dense(paper_model)
    winners = _logits(paper_model, dense, calibration).max(axis=1)
    assert floor == pytest.approx(winners.min() - FLOOR_MARGIN, abs=1e-4)
    before = paper_model.predict(images, verbose=0)
    after = floored.predict(images, verbose=0)
    assert np.array_equal(before.argmax(axis=1), after.argmax(axis=1))
    np.testing.assert_allclose(after, before, atol=1e-3)
    assert floored.layers[-2].activation.__name__ == "relu"
    assert len(floored.layers) == len(paper_model.layers)  # one Dense swapped, nothing added


def test_clamped_classes_only_change_below_the_floor(paper_model, mnist_small):
    """Logits under the floor rise to it; every logit above it is the same (softmax ignores the shift)."""
    calibration = prepare_mnist(mnist_small["x_train"][:50])
    floored, floor = with_logit_floor(paper_model, calibration)
    images = prepare_mnist(mnist_small["x_test"][:50])
    original = _logits(paper_model, logits_dense(paper_model), images)
    clamped = _logits(floored, floored.layers[-2], images)  # relu(z - floor) before its activation
    np.testing.assert_allclose(np.maximum(clamped, 0.0), np.maximum(original - floor, 0.0), atol=1e-4)


def test_dense_with_softmax_activation_is_recognised(mnist_small):
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    inputs = keras.Input((28, 28, 1))
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    images = prepare_mnist(mnist_small["x_test"][:100])
    floored, floor = with_logit_floor(model, images)
    assert floor is not None
    assert np.array_equal(model.predict(images, verbose=0).argmax(1), floored.predict(images, verbose=0).argmax(1))


def test_other_endings_are_left_alone(mnist_small):
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    outputs = layers.Activation("softmax")(layers.Dense(10, activation="relu")(layers.Flatten()(inputs)))
    model = keras.Model(inputs, outputs)
    same, floor = with_logit_floor(model, prepare_mnist(mnist_small["x_test"][:10]))
    assert same is model and floor is None
