"""The live application: frame sources (cameras, videos, images), the camera loop and its outputs."""
