"""Keras -> TFLite conversion (float32 and full-integer int8) and its validation."""
