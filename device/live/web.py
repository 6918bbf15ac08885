"""Web view of the live loop: an MJPEG stream, a small page and the current reading as JSON.

Standard library only (``http.server``) plus ``cv2.imencode``, so a headless Pi needs nothing extra.
The recognition loop calls ``WebView.publish`` (or uses the view as a sink) once per frame; the frame
is JPEG-encoded there, once, and every viewer's thread sends that same buffer. Viewers wait on a
condition for the next frame and write to their sockets holding no lock, so many, slow or vanishing
viewers never block or stop the loop: a slow viewer simply skips frames.

Routes: ``/`` the page, ``/stream.mjpg`` multipart/x-mixed-replace JPEG stream, ``/reading.json``.
"""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from device.recognition.records import detections_record, reading_detections, reading_record, reading_text

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # only this machine, unless the user names a host
DEFAULT_PORT = 8000
BOUNDARY = "zmgframe"
JPEG_QUALITY = 80
MAX_VIEWERS = 8  # a Pi has little CPU and bandwidth to spare; more viewers get 503
WAIT_SECONDS = 0.5  # how often a waiting viewer thread checks whether the server stops
SOCKET_TIMEOUT_SECONDS = 10.0  # a viewer that accepts no data for this long is dropped

# Viewers that go away: not errors, nothing to report.
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class WebViewError(Exception):
    """One-line, user-facing problem (bad address, port in use)."""


def parse_serve_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port); the host defaults to 127.0.0.1.

    Port 0 asks the system for a free port (tests). Raises ValueError with a one-line message.
    """
    spec = text.strip()
    host, sep, port_text = spec.rpartition(":")
    if not sep:
        host, port_text = "", spec
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 host in brackets, e.g. [::1]:8000")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(
            f"{text!r}: expected [HOST:]PORT with a port 0-65535, e.g. 8000 or 0.0.0.0:8000"
        )
    return host or DEFAULT_HOST, int(port_text)


def view_record(detections: Sequence[Any], stable_reading: Any, frame_index: int) -> dict[str, Any]:
    """The JSON served at /reading.json: the stable reading's record, the frame number, and the record of
    what the current frame shows (``current``), both in the one shape of ``device.recognition.records``.

    ``stable_reading``: None, a string, or an object with ``text`` and ``detections`` (``live.loop.Reading``).
    """
    record = reading_record(reading_text(stable_reading), reading_detections(stable_reading))
    record["frame"] = frame_index
    record["current"] = detections_record(detections)
    return record


class _Latest:
    """The newest JPEG and reading, handed from the loop to the viewer threads."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.jpeg: bytes | None = None
        self.sequence = 0  # number of frames published; viewers remember the last one they sent
        self.reading: dict[str, Any] = view_record((), None, 0)
        self.closed = False
        self.viewers = 0

    def wait_for_frame(self, after: int, timeout: float) -> tuple[int, bytes] | None:
        """The next frame newer than ``after``, or None on timeout or when closed."""
        with self.condition:
            self.condition.wait_for(
                lambda: self.closed or (self.jpeg is not None and self.sequence > after), timeout
            )
            if self.closed or self.jpeg is None or self.sequence <= after:
                return None
            return self.sequence, self.jpeg


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zmg-digits live</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1rem; background: #111; color: #eee; }}
#reading {{ font-size: 3rem; font-family: monospace; margin: .5rem 0; }}
#detail {{ color: #aaa; }}
img {{ max-width: 100%; border: 1px solid #444; }}
</style></head>
<body>
<h1>zmg-digits live</h1>
<div>Reading: <span id="reading">&ndash;</span></div>
<div id="detail">waiting for the camera&hellip;</div>
<img src="/stream.mjpg" alt="live camera picture with the recognised digits">
<script>
async function poll() {{
  try {{
    const r = await fetch('/reading.json', {{cache: 'no-store'}});
    const data = await r.json();
    document.getElementById('reading').textContent = data.reading ?? '\\u2013';
    const now = data.current.digits;
    const conf = now.map(d => d.digit + ' ' + Math.round(d.confidence * 100) + '%').join(', ');
    document.getElementById('detail').textContent =
      'frame ' + data.frame + (now.length ? ' \\u00b7 now: ' + conf : ' \\u00b7 no digits in view');
  }} catch (e) {{
    document.getElementById('detail').textContent = 'no connection to the Pi';
  }}
  setTimeout(poll, {poll_ms});
}}
poll();
</script>
</body></html>
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: simple, and right for a stream
    timeout = SOCKET_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                self._send_body(200, "text/html; charset=utf-8", self.server.page)
            elif path == "/reading.json":
                with self.server.latest.condition:
                    body = json.dumps(self.server.latest.reading).encode()
                self._send_body(200, "application/json", body)
            elif path == "/stream.mjpg":
                self._stream()
            else:
                self._send_body(404, "text/plain; charset=utf-8", b"not found\n")
        except _DISCONNECTS:
            pass  # the viewer went away; the loop does not care

    def _send_body(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        latest = self.server.latest
        with latest.condition:
            full = latest.viewers >= self.server.max_viewers
            if not full:
                latest.viewers += 1
        if full:
            self._send_body(503, "text/plain; charset=utf-8", b"too many viewers\n")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Pragma", "no-cache")
            self.end_headers()
            sent = 0
            while not latest.closed:
                frame = latest.wait_for_frame(sent, WAIT_SECONDS)
                if frame is None:
                    continue
                sent, jpeg = frame
                # Written outside the lock: a slow socket only delays this viewer.
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                self.wfile.flush()
        finally:
            with latest.condition:
                latest.viewers -= 1

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # viewer threads never keep the program alive
    page: bytes
    latest: _Latest
    max_viewers: int

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("web view: error serving %s", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class WebView:
    """MJPEG + page + JSON server fed by the live loop; also a sink ``(frame, detections, reading)``.

    >>> view = WebView(port=8000); view.start()       # http://127.0.0.1:8000/
    >>> view.publish(annotated_bgr, detections, "42")  # once per frame, from the loop
    >>> view.stop()
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        jpeg_quality: int = JPEG_QUALITY,
        max_viewers: int = MAX_VIEWERS,
        poll_ms: int = 500,
    ) -> None:
        self.host, self.port = host, port
        self.jpeg_quality = int(jpeg_quality)
        self.max_viewers = max_viewers
        self._page = PAGE.format(poll_ms=int(poll_ms)).encode()
        self._latest = _Latest()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.frames_published = 0

    @classmethod
    def from_address(cls, text: str, **kwargs: Any) -> WebView:
        """A view for a ``[HOST:]PORT`` string (see ``parse_serve_address``)."""
        host, port = parse_serve_address(text)
        return cls(host, port, **kwargs)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound: the real port when 0 was asked for."""
        if self._server is None:
            return self.host, self.port
        return self.host, int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host, port = self.address
        shown = {"0.0.0.0": socket.gethostname(), "::": socket.gethostname()}.get(host, host)
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/"

    @property
    def viewers(self) -> int:
        """Number of open MJPEG streams."""
        return self._latest.viewers

    @property
    def wants_frame(self) -> bool:
        """True while someone watches the stream: the live loop may skip drawing otherwise."""
        return self._latest.viewers > 0

    def start(self) -> WebView:
        """Bind and serve in a background thread. Raises WebViewError if the address is unusable."""
        if self._server is not None:
            return self
        self._latest.closed = False
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self.port), _Handler)
        except (OSError, OverflowError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise WebViewError(f"cannot serve the web view on {self.host}:{self.port}: {reason}") from None
        server.page, server.latest, server.max_viewers = self._page, self._latest, self.max_viewers
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="web-view", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open streams end within WAIT_SECONDS. Safe to call twice."""
        with self._latest.condition:
            self._latest.closed = True
            self._latest.condition.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebView:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def publish(
        self, frame_bgr: np.ndarray | None, detections: Sequence[Any] = (), stable_reading: Any = None
    ) -> None:
        """Hand the newest annotated frame and reading to the viewers; returns at once.

        The JPEG is encoded only while someone watches the stream; an empty or unencodable frame
        updates the reading and keeps the previous picture.
        """
        self.frames_published += 1
        record = view_record(detections, stable_reading, self.frames_published)
        jpeg = None
        if self._latest.viewers > 0 and frame_bgr is not None and getattr(frame_bgr, "size", 0) > 0:
            ok, buffer = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            jpeg = buffer.tobytes() if ok else None
        with self._latest.condition:
            self._latest.reading = record
            if jpeg is not None:
                self._latest.jpeg = jpeg
                self._latest.sequence += 1
                self._latest.condition.notify_all()

    # The live loop's sink protocol: sink(annotated_frame, detections, stable_reading), then close().
    __call__ = publish
    close = stop
