"""The paper's network: a convolutional autoencoder followed by a 784-500-10 fully connected net.

Section 2.2 of the paper (summarised in docs/paper.md): encoder conv5x5x32 -> avg-pool 2 -> conv5x5x64
-> pool 2; decoder deconv2x2x64 s2 -> conv3x3x32 -> deconv2x2x32 s2 -> conv3x3x1 (a 28x28 map);
classifier 784 -> 500 -> 10 with ReLU and softmax; L2 weight decay; truncated-normal init.
About 489 k parameters and 16.5 M multiply-accumulates per digit. Every layer here converts to
full-integer int8 TFLite (CONV_2D, AVERAGE/MAX_POOL_2D, TRANSPOSE_CONV, RESHAPE, FULLY_CONNECTED,
SOFTMAX). Where the paper is silent, the choices are in ``ModelConfig`` and docs/paper-choices.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from device.common.shapes import INPUT_SHAPE, NUM_CLASSES

if TYPE_CHECKING:  # Keras loads TensorFlow: only when a model is built, so `train --help` stays instant
    import keras



@dataclass(frozen=True)
class ModelConfig:
    """Architecture choices the paper leaves open (measured in docs/paper-choices.md)."""

    l2: float = 5e-4  # weight decay on every kernel (paper eq. 9, strength not given)
    # He scaling of a truncated normal ("weights initialised from a truncated normal", stddev not
    # given): sqrt(2 / fan_in) keeps ReLU activations at a steady scale through all nine layers.
    init_scale: float = 2.0
    pool2: str = "max"  # "max" or "avg": the paper does not say which pooling follows conv2
    dropout: float = 0.3  # on the 500-unit layer's output; not in the paper, free at inference
    classes: int = NUM_CLASSES  # 10 digits; 11 adds the reader's "non-digit" class (train/negatives.py)


def build_model(config: ModelConfig | None = None, name: str = "zmg_cae_fc") -> keras.Model:
    """Build the paper's network; input (28, 28, 1) float in [0, 1], output 10 softmax probabilities
    (``config.classes``: 11 with the non-digit class).

    Trained end to end through the classifier: the decoder's 28x28 map is a learned feature map.
    """
    import keras
    from keras import layers

    cfg = config or ModelConfig()
    reg = keras.regularizers.L2(cfg.l2) if cfg.l2 > 0 else None

    def init() -> keras.initializers.Initializer:
        # Unseeded on purpose: keras.utils.set_random_seed makes every draw reproducible.
        return keras.initializers.VarianceScaling(cfg.init_scale, "fan_in", "truncated_normal")

    def conv(filters: int, size: int, name: str, activation: str | None = "relu") -> layers.Layer:
        return layers.Conv2D(filters, size, padding="same", activation=activation,
                             kernel_initializer=init(), kernel_regularizer=reg, name=name)

    def deconv(filters: int, name: str) -> layers.Layer:
        return layers.Conv2DTranspose(filters, 2, strides=2, padding="valid", activation="relu",
                                      kernel_initializer=init(), kernel_regularizer=reg, name=name)

    pool2 = layers.MaxPooling2D if cfg.pool2 == "max" else layers.AveragePooling2D
    inputs = keras.Input(INPUT_SHAPE, name="image")
    # Encoder
    x = conv(32, 5, "conv1")(inputs)
    x = layers.AveragePooling2D(2, name="pool1")(x)  # the paper: average, keeps background
    x = conv(64, 5, "conv2")(x)
    x = pool2(2, name="pool2")(x)
    # Decoder
    x = deconv(64, "deconv1")(x)
    x = conv(32, 3, "upsample1")(x)
    x = deconv(32, "deconv2")(x)
    feature_map = conv(1, 3, "upsample2", activation=None)(x)  # the 28x28 map the FC net reads
    # Classifier: 784 -> 500 -> 10
    x = layers.Flatten(name="flatten")(feature_map)
    x = layers.Dense(500, activation="relu", kernel_initializer=init(), kernel_regularizer=reg,
                     name="fc1")(x)
    if cfg.dropout > 0:
        x = layers.Dropout(cfg.dropout, name="dropout")(x)
    logits = layers.Dense(cfg.classes, kernel_initializer=init(), kernel_regularizer=reg,
                          name="logits")(x)
    probs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, probs, name=name)


def classifier_only(model: keras.Model) -> keras.Model:
    """The image -> probabilities part of a model (drops any extra output a variant may add)."""
    import keras

    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.get_layer("probabilities").output, name=model.name)


def multiply_accumulates(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass (conv, transposed conv and dense layers)."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2DTranspose):
            _, h_in, w_in, c_in = layer.input.shape
            k_h, k_w = layer.kernel_size
            total += h_in * w_in * c_in * k_h * k_w * layer.filters
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            k_h, k_w = layer.kernel_size
            total += h * w * c_out * k_h * k_w * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)
