"""Web view of the live loop: an MJPEG stream, a small page and the current reading as JSON.

Standard library only (asyncio, through ``device.live.webserver``) plus ``cv2.imencode``, so a headless
Pi needs nothing extra. The recognition loop calls ``WebView.publish`` (or uses the view as a sink) once
per frame; the frame is JPEG-encoded there, once, and handed to the server's own thread, where every viewer
sends that same buffer. ``publish`` never waits for a client: a slow viewer skips frames, a viewer that
cannot take one frame within ``WRITE_DEADLINE_S`` is dropped, and one that leaves frees its slot at once.

Viewer slots: at most ``max_viewers`` streams, and ``max_streams_per_client`` from one address. When they
are full, a new viewer takes the slot of one that is falling behind (it received under half of the frames
of the last few seconds), so a handful of slow readers cannot lock everyone else out.

Routes: ``/`` the page (and ``/app.js``, ``/app.css``), ``/stream.mjpg`` the multipart/x-mixed-replace
JPEG stream, ``/reading.json`` the reading. Access rules (Host allow-list, token, limits, security headers)
are the server's: see ``device.live.webserver``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from device.live.webpage import APP_CSS, APP_JS, PAGE_HTML
from device.live.webserver import (
    BACKLOG,
    WRITE_DEADLINE_S,
    Access,
    ClientGone,
    Connection,
    HostAllowList,
    HttpServer,
    Request,
    ServerLimits,
    is_loopback,
)
from device.recognition.records import detections_record, reading_detections, reading_record, reading_text

DEFAULT_HOST = "127.0.0.1"  # only this machine, unless the user names a host
DEFAULT_PORT = 8000
TOKEN_ENV = "ZMG_WEB_TOKEN"  # the token for a service (systemd's EnvironmentFile), instead of --token
BOUNDARY = "zmgframe"
JPEG_QUALITY = 80
MAX_VIEWERS = 8  # a Pi has little CPU and bandwidth to spare
MAX_STREAMS_PER_CLIENT = 4  # a few tabs on one computer; no single address takes every slot
STREAM_SEND_BUFFER = 64 * 1024  # see Connection.limit_buffering
LAG_WINDOW_S = 5.0  # how far back a viewer's share of the frames is counted
LAG_GRACE_S = 2.0  # a new viewer is not judged before this
LAGGING_SHARE = 0.5  # a viewer that got less than this share of the frames is falling behind
MIN_FRAMES_TO_JUDGE = 4  # a stalled camera makes nobody a laggard
STATES_KEPT = 256  # stream states remembered for the pages that ask


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


def choose_token(host: str, token: str | None = None, no_auth: bool = False,
                 environ: dict[str, str] | None = None) -> str | None:
    """The web view's token: none with ``no_auth``; else ``token``, else $ZMG_WEB_TOKEN; else a new random
    one when ``host`` is reachable from other machines; else (loopback) none."""
    if no_auth:
        return None
    given = token or (os.environ if environ is None else environ).get(TOKEN_ENV) or None
    if given:
        return given
    return None if is_loopback(host) else secrets.token_urlsafe(16)


def web_view_for(args: Any) -> WebView:
    """The web view that ``--serve``, ``--token``, ``--no-auth`` and ``--allow-host`` ask for (not started)."""
    host, port = args.serve
    token = choose_token(host, getattr(args, "token", None), getattr(args, "no_auth", False))
    return WebView(host, port, token=token, allow_hosts=getattr(args, "allow_host", None) or ())


def describe_access(view: WebView) -> str | None:
    """A line on who can see the view, when that is worth saying; None for the quiet default (loopback)."""
    host = view.address[0]
    if view.token is None and not is_loopback(host):
        return "no token (--no-auth): anyone who can reach this machine sees the camera"
    if view.token is not None and not is_loopback(host):
        return "anyone with this link sees the camera; keep it private"
    return None


def view_record(detections: Sequence[Any], stable_reading: Any, frame_index: int) -> dict[str, Any]:
    """The JSON served at /reading.json: the stable reading's record, the frame number, and the record of
    what the current frame shows (``current``), both in the one shape of ``device.recognition.records``.

    ``stable_reading``: None, a string, or an object with ``text`` and ``detections`` (``live.loop.Reading``).
    """
    record = reading_record(reading_text(stable_reading), reading_detections(stable_reading))
    record["frame"] = frame_index
    record["current"] = detections_record(detections)
    return record


@dataclass(eq=False)
class _Viewer:
    connection: Connection
    started: float = field(default_factory=time.monotonic)
    delivered: deque[float] = field(default_factory=deque)  # when each frame it took was written


class _Frames:
    """The newest JPEG, owned by the server's event loop; ``next`` completes when a newer one arrives."""

    def __init__(self) -> None:
        self.sequence = 0
        self.jpeg: bytes | None = None
        self.published: deque[float] = deque()
        self.next: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def put(self, jpeg: bytes) -> None:
        now = time.monotonic()
        self.sequence += 1
        self.jpeg = jpeg
        self.published.append(now)
        _forget_before(self.published, now - LAG_WINDOW_S)
        arrived, self.next = self.next, asyncio.get_running_loop().create_future()
        arrived.set_result(None)


def _forget_before(times: deque[float], oldest: float) -> None:
    while times and times[0] < oldest:
        times.popleft()


def _clean_stream_id(text: str | None) -> str | None:
    return text if text and re.fullmatch(r"[A-Za-z0-9_-]{1,32}", text) else None


class WebView:
    """MJPEG + page + JSON server fed by the live loop; also a sink ``(frame, detections, reading)``.

    >>> view = WebView(port=8000).start()              # http://127.0.0.1:8000/
    >>> view.publish(annotated_bgr, detections, "42")  # once per frame, from the loop
    >>> view.stop()

    ``token``: when set, every request must carry it (see ``device.live.webserver.Access``) and ``url``
    includes it; ``allow_hosts``: more names a browser may use for this machine (a DNS name, a proxy).
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        jpeg_quality: int = JPEG_QUALITY,
        max_viewers: int = MAX_VIEWERS,
        poll_ms: int = 500,
        *,
        token: str | None = None,
        allow_hosts: Iterable[str] = (),
        max_streams_per_client: int = MAX_STREAMS_PER_CLIENT,
        limits: ServerLimits | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.jpeg_quality = int(jpeg_quality)
        self.max_viewers = max_viewers
        self.max_streams_per_client = max_streams_per_client
        self.token = token
        self._page = PAGE_HTML.format(poll_ms=int(poll_ms)).encode()
        self._server = HttpServer(
            routes={
                "/": self._serve_page, "/index.html": self._serve_page,
                "/app.js": self._static("text/javascript; charset=utf-8", APP_JS.encode()),
                "/app.css": self._static("text/css; charset=utf-8", APP_CSS.encode()),
                "/reading.json": self._serve_reading,
                "/stream.mjpg": self._serve_stream,
            },
            hosts=HostAllowList.for_address(host, allow_hosts),
            access=Access(token),
            limits=limits or ServerLimits(),
        )
        self._reading: dict[str, Any] = view_record((), None, 0)  # replaced whole, never changed in place
        self._viewers: list[_Viewer] = []  # the event loop's; other threads only count it
        self._stream_states: OrderedDict[str, str] = OrderedDict()
        self._frames: _Frames | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bound_port = port
        self.frames_published = 0

    @classmethod
    def from_address(cls, text: str, **kwargs: Any) -> WebView:
        """A view for a ``[HOST:]PORT`` string (see ``parse_serve_address``)."""
        host, port = parse_serve_address(text)
        return cls(host, port, **kwargs)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound: the real port when 0 was asked for."""
        return self.host, self._bound_port

    @property
    def url(self) -> str:
        """The address to open in a browser, with the token when one is needed."""
        host, port = self.address
        shown = {"0.0.0.0": socket.gethostname(), "::": socket.gethostname()}.get(host, host)
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/" + (f"?token={self.token}" if self.token else "")

    @property
    def viewers(self) -> int:
        """Number of open MJPEG streams."""
        return len(self._viewers)

    @property
    def wants_frame(self) -> bool:
        """True while someone watches the stream: the live loop may skip drawing otherwise."""
        return bool(self._viewers)

    # ------------------------------------------------------------------ lifetime
    def start(self) -> WebView:
        """Bind and serve in a background thread. Raises WebViewError if the address is unusable."""
        if self._thread is not None:
            return self
        sock = self._bind()
        self._bound_port = int(sock.getsockname()[1])
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = loop
        self._thread = threading.Thread(target=self._run, args=(loop, sock, ready, failure), name="web-view",
                                        daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure or not ready.is_set():
            self.stop()
            raise WebViewError(f"cannot serve the web view on {self.host}:{self.port}: "
                               f"{failure[0] if failure else 'the server did not start'}")
        return self

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            return socket.create_server((self.host, self.port), family=family, backlog=BACKLOG)
        except (OSError, OverflowError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise WebViewError(f"cannot serve the web view on {self.host}:{self.port}: {reason}") from None

    def _run(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ready: threading.Event,
             failure: list[BaseException]) -> None:
        asyncio.set_event_loop(loop)
        try:
            self._frames = loop.run_until_complete(self._make_frames())
            server = loop.run_until_complete(self._server.serve(sock))
        except Exception as err:  # reported by start()
            failure.append(err)
            sock.close()
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.cancel()
            sock.close()
            for connection in list(self._server.connections):
                connection.abort()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    @staticmethod
    async def _make_frames() -> _Frames:
        return _Frames()

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in the meantime
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        self._viewers.clear()

    def __enter__(self) -> WebView:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the loop's side
    def publish(
        self, frame_bgr: np.ndarray | None, detections: Sequence[Any] = (), stable_reading: Any = None
    ) -> None:
        """Hand the newest annotated frame and reading to the viewers; returns at once.

        The JPEG is encoded only while someone watches the stream; an empty or unencodable frame
        updates the reading and keeps the previous picture.
        """
        self.frames_published += 1
        self._reading = view_record(detections, stable_reading, self.frames_published)
        if not self._viewers or frame_bgr is None or getattr(frame_bgr, "size", 0) == 0:
            return
        ok, buffer = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        loop, frames = self._loop, self._frames
        if ok and loop is not None and frames is not None:
            with contextlib.suppress(RuntimeError):  # the server stopped meanwhile
                loop.call_soon_threadsafe(frames.put, buffer.tobytes())

    # The live loop's sink protocol: sink(annotated_frame, detections, stable_reading), then close().
    __call__ = publish
    close = stop

    # ------------------------------------------------------------------ routes (the event loop's side)
    async def _serve_page(self, request: Request, connection: Connection) -> None:
        await connection.respond(200, "text/html; charset=utf-8", self._page, head_only=request.is_head)

    @staticmethod
    def _static(content_type: str, body: bytes) -> Any:
        async def serve(request: Request, connection: Connection) -> None:
            await connection.respond(200, content_type, body, head_only=request.is_head)

        return serve

    async def _serve_reading(self, request: Request, connection: Connection) -> None:
        record = self._reading
        stream_id = _clean_stream_id(request.query.get("stream"))
        if stream_id is not None:
            record = {**record, "stream": self._stream_states.get(stream_id, "unknown")}
        await connection.respond(200, "application/json", json.dumps(record).encode(), head_only=request.is_head)

    async def _serve_stream(self, request: Request, connection: Connection) -> None:
        headers = [("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}"), ("Pragma", "no-cache")]
        if request.is_head:
            return await connection.respond(200, headers[0][1], b"", head_only=True, headers=headers[1:])
        stream_id = _clean_stream_id(request.query.get("id"))
        viewer = self._admit(connection)
        if viewer is None:
            self._remember(stream_id, "refused")
            return await connection.respond_text(503, "too many viewers", headers=[("Retry-After", "5")])
        self._remember(stream_id, "live")
        try:
            connection.limit_buffering(STREAM_SEND_BUFFER)
            await connection.start_stream(200, headers)
            await self._send_frames(viewer)
        except ClientGone:
            pass
        finally:
            if viewer in self._viewers:
                self._viewers.remove(viewer)
            self._remember(stream_id, "ended")

    async def _send_frames(self, viewer: _Viewer) -> None:
        """The newest frame whenever the viewer can take it, until it leaves or is dropped."""
        frames, connection, sent = self._frames, viewer.connection, 0
        assert frames is not None and connection.gone is not None
        while not connection.gone.done():
            if frames.jpeg is not None and frames.sequence > sent:
                sent, jpeg = frames.sequence, frames.jpeg
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                await connection.send(head.encode() + jpeg + b"\r\n", WRITE_DEADLINE_S)
                viewer.delivered.append(time.monotonic())
                _forget_before(viewer.delivered, time.monotonic() - LAG_WINDOW_S)
            else:
                await asyncio.wait({frames.next, connection.gone}, return_when=asyncio.FIRST_COMPLETED)

    def _admit(self, connection: Connection) -> _Viewer | None:
        """A slot for a new stream, freeing one held by a viewer that falls behind if needed; None when full."""
        same_client = [v for v in self._viewers if v.connection.client == connection.client]
        if len(same_client) >= self.max_streams_per_client:
            crowd = same_client
        elif len(self._viewers) >= self.max_viewers:
            crowd = self._viewers
        else:
            crowd = []
        if crowd:
            laggard = self._laggard(crowd)
            if laggard is None:
                return None
            self._viewers.remove(laggard)
            laggard.connection.abort()
        viewer = _Viewer(connection)
        self._viewers.append(viewer)
        return viewer

    def _laggard(self, viewers: Sequence[_Viewer]) -> _Viewer | None:
        """The viewer that got the smallest share of the recent frames, if that share is under LAGGING_SHARE."""
        assert self._frames is not None
        now, published = time.monotonic(), self._frames.published
        worst, worst_share = None, LAGGING_SHARE
        for viewer in viewers:
            if now - viewer.started < LAG_GRACE_S:
                continue
            since = max(viewer.started, now - LAG_WINDOW_S)
            offered = sum(1 for t in published if t >= since)
            if offered < MIN_FRAMES_TO_JUDGE:
                continue
            share = sum(1 for t in viewer.delivered if t >= since) / offered
            if share < worst_share:
                worst, worst_share = viewer, share
        return worst

    def _remember(self, stream_id: str | None, state: str) -> None:
        if stream_id is None:
            return
        self._stream_states[stream_id] = state
        self._stream_states.move_to_end(stream_id)
        while len(self._stream_states) > STATES_KEPT:
            self._stream_states.popitem(last=False)
