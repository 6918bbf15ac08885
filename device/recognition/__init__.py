"""The recogniser core: a frame or a digit crop becomes digits (preprocess, segment, runtime, Recognizer)."""
