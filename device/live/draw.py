"""Drawing the overlay: boxes, digits with their confidence, the reading and the frame rate."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from device.recognition.recognizer import Detection

BOX_COLOR = (0, 200, 0)  # BGR
LOW_COLOR = (0, 165, 255)  # confidence below LOW_CONFIDENCE: orange
TEXT_COLOR = (255, 255, 255)
LOW_CONFIDENCE = 0.8
FONT = cv2.FONT_HERSHEY_SIMPLEX


def to_bgr(frame: np.ndarray) -> np.ndarray:
    """A BGR copy of a gray, BGR or BGRA uint8 frame, to draw on."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2BGR)
    return frame.copy()


def _label(image: np.ndarray, text: str, origin: tuple[int, int], color: tuple[int, int, int], scale: float) -> None:
    """Text on a filled background, so it stays readable on any paper."""
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    x, y = origin
    y = max(th + base, y)
    cv2.rectangle(image, (x, y - th - base), (x + tw + 2, y + 1), color, -1)
    cv2.putText(image, text, (x + 1, y - base + 1), FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def annotate(
    frame: np.ndarray,
    detections: Sequence[Detection],
    reading: str | None = None,
    fps: float | None = None,
    scale_xy: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """A BGR copy of ``frame`` with each detection's box and "digit confidence", the reading and FPS.

    ``scale_xy`` maps detection boxes onto ``frame`` when it is a larger picture of the frame the
    detections came from (the camera's main stream).
    """
    image = to_bgr(frame)
    h = image.shape[0]
    text_scale = max(0.4, min(1.2, h / 800))
    sx, sy = scale_xy
    for det in detections:
        x, y, bw, bh = det.box
        p0 = (round(x * sx), round(y * sy))
        p1 = (round((x + bw) * sx), round((y + bh) * sy))
        color = BOX_COLOR if det.confidence >= LOW_CONFIDENCE else LOW_COLOR
        cv2.rectangle(image, p0, p1, color, max(1, round(text_scale * 2)))
        _label(image, f"{det.digit} {det.confidence:.2f}", (p0[0], p0[1] - 2), color, text_scale * 0.8)
    status = []
    if reading is not None:
        status.append(f"reading: {reading or '-'}")
    if fps is not None:
        status.append(f"{fps:.1f} FPS")
    if status:
        _label(image, "   ".join(status), (4, h - 6), (255, 255, 255), text_scale)
    return image
