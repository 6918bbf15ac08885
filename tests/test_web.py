"""The web view against a real HTTP server on loopback, fed by a camera stand-in thread."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

import cv2
import numpy as np
import pytest

from device.live.web import BOUNDARY, WebView, WebViewError, parse_serve_address

FRAME_SHAPE = (240, 320, 3)


class FakeDetection(NamedTuple):
    box: tuple[int, int, int, int]
    digit: int
    confidence: float
    line: int = 0


DETECTIONS = [FakeDetection((10, 20, 30, 40), 4, 0.97), FakeDetection((50, 20, 30, 40), 2, 0.91)]


class CameraStandIn:
    """Publishes numbered noisy frames as fast as the view takes them, like the live loop would."""

    def __init__(self, view: WebView) -> None:
        self.view = view
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        rng = np.random.default_rng(0)
        # Noise makes each JPEG large (~100 kB), so a viewer that stops reading fills its socket soon.
        self._noise = rng.integers(0, 255, FRAME_SHAPE, dtype=np.uint8)

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self._noise.copy()
            cv2.putText(frame, str(self.published), (10, 120), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 5)
            self.view.publish(frame, DETECTIONS, "42")
            self.published += 1
            time.sleep(0.005)

    def __enter__(self) -> CameraStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def view() -> Iterator[WebView]:
    web = WebView(port=0).start()
    yield web
    web.stop()


def get(view: WebView, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(*view.address, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


class MjpegClient:
    """Reads the multipart stream part by part with a plain HTTP client."""

    def __init__(self, view: WebView) -> None:
        self.conn = http.client.HTTPConnection(*view.address, timeout=5)
        self.conn.request("GET", "/stream.mjpg")
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.content_type = self.response.getheader("Content-Type", "")

    def next_jpeg(self) -> bytes:
        line = self.response.readline()
        while line.strip() != f"--{BOUNDARY}".encode():
            if not line:
                raise EOFError("stream ended")
            line = self.response.readline()
        headers = {}
        while (line := self.response.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        return self.response.read(int(headers["content-length"]))

    def close(self) -> None:
        self.response.close()  # the response holds the socket open too
        self.conn.close()


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "a stream part is not a decodable JPEG"
    return image


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_page_shows_the_stream_and_polls_the_reading(view: WebView) -> None:
    status, content_type, body = get(view, "/")
    assert status == 200
    assert content_type.startswith("text/html")
    assert b'<img id="stream"' in body
    assert b'<script src="/app.js"' in body
    status, content_type, script = get(view, "/app.js")
    assert status == 200
    assert content_type.startswith("text/javascript")
    assert b"/stream.mjpg" in script
    assert b"/reading.json" in script


def test_reading_json_reports_the_stable_reading_and_current_digits(view: WebView) -> None:
    view.publish(np.zeros(FRAME_SHAPE, np.uint8), DETECTIONS, "42")
    status, content_type, body = get(view, "/reading.json")
    assert status == 200
    assert content_type == "application/json"
    reading = json.loads(body)
    assert reading["reading"] == "42"
    assert reading["current"]["reading"] == "42"
    assert [d["digit"] for d in reading["current"]["digits"]] == [4, 2]
    assert reading["current"]["digits"][0]["box"] == [10, 20, 30, 40]
    assert reading["current"]["digits"][1]["confidence"] == pytest.approx(0.91)
    assert reading["digits"] == []  # a stable reading given as plain text carries no detections


def test_reading_json_has_no_reading_before_the_first_frame(view: WebView) -> None:
    _, _, body = get(view, "/reading.json")
    assert json.loads(body)["reading"] is None


def test_unknown_path_is_404(view: WebView) -> None:
    assert get(view, "/secret")[0] == 404


def test_several_clients_at_once_receive_decodable_jpeg_parts(view: WebView) -> None:
    parts_each, clients = 5, 4
    received: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []
    ready = threading.Barrier(clients, timeout=5)

    def watch(index: int) -> None:
        try:
            client = MjpegClient(view)
            assert client.status == 200
            assert client.content_type == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            ready.wait()
            received[index] = [decode(client.next_jpeg()) for _ in range(parts_each)]
            client.close()
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    with CameraStandIn(view):
        threads = [threading.Thread(target=watch, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert not errors, errors
    assert sorted(received) == list(range(clients))
    for frames in received.values():
        assert len(frames) == parts_each
        assert all(frame.shape == FRAME_SHAPE for frame in frames)
        # Consecutive parts are different frames (each carries its own number), not one frame repeated.
        assert not np.array_equal(frames[0], frames[-1])


def kill_abruptly(sock: socket.socket) -> None:
    """Close with a TCP reset, as a crashed browser or a dropped Wi-Fi link would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_killed_and_stalled_clients_do_not_stop_the_loop_or_other_viewers(view: WebView) -> None:
    with CameraStandIn(view) as camera:
        steady = MjpegClient(view)
        decode(steady.next_jpeg())

        doomed = socket.create_connection(view.address, timeout=5)
        doomed.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        assert doomed.recv(4096)  # the stream has begun
        stalled = socket.create_connection(view.address, timeout=5)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")  # and never reads a byte
        assert wait_until(lambda: view.viewers == 3)

        kill_abruptly(doomed)
        published_at_kill = camera.published
        # The loop keeps publishing, the steady viewer keeps receiving new frames...
        frames_after = [decode(steady.next_jpeg()) for _ in range(20)]
        assert len(frames_after) == 20
        assert wait_until(lambda: camera.published > published_at_kill + 50)
        # ...and the killed viewer's thread has ended while the stalled one is still counted.
        assert wait_until(lambda: view.viewers == 2)
        steady.close()
        stalled.close()


def test_viewers_beyond_the_limit_are_turned_away() -> None:
    with WebView(port=0, max_viewers=1) as web, CameraStandIn(web):
        first = MjpegClient(web)
        decode(first.next_jpeg())
        status, _, body = get(web, "/stream.mjpg")
        assert status == 503
        assert b"too many viewers" in body
        first.close()


def test_stop_ends_open_streams(view: WebView) -> None:
    with CameraStandIn(view):
        client = MjpegClient(view)
        decode(client.next_jpeg())
    view.stop()
    with pytest.raises((EOFError, OSError, http.client.HTTPException)):
        for _ in range(1000):  # the rest of a part already sent, then the end of the stream
            client.next_jpeg()
    client.close()


def test_publish_without_viewers_skips_encoding_but_updates_the_reading(view: WebView) -> None:
    view.publish(np.zeros(FRAME_SHAPE, np.uint8), DETECTIONS[:1], None)
    view.publish(None, [], "7")  # a bad frame: the reading still moves on
    reading = json.loads(get(view, "/reading.json")[2])
    assert reading["reading"] == "7"
    assert reading["digits"] == []
    assert view.frames_published == 2


def test_view_wants_frames_only_while_someone_watches(view: WebView) -> None:
    assert not view.wants_frame  # the live loop can skip drawing for nobody
    with CameraStandIn(view):
        client = MjpegClient(view)
        decode(client.next_jpeg())
        assert view.wants_frame
        client.close()
        assert wait_until(lambda: not view.wants_frame)


def test_view_is_a_live_loop_sink_with_close(view: WebView) -> None:
    class Stable(NamedTuple):
        text: str

    two_lines = [FakeDetection((0, 0, 9, 9), 4, 0.9), FakeDetection((0, 20, 9, 9), 7, 0.8, line=1)]
    view(np.zeros(FRAME_SHAPE, np.uint8), two_lines, Stable("4 7"))
    reading = json.loads(get(view, "/reading.json")[2])
    assert reading["reading"] == "4 7"
    assert reading["current"]["reading"] == "4 7"
    view.close()
    with pytest.raises(OSError):
        get(view, "/reading.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("raspberrypi.local:80", ("raspberrypi.local", 80)),
        ("[::1]:9000", ("::1", 9000)),
        (":8000", ("127.0.0.1", 8000)),
    ],
)
def test_serve_address_parses_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_serve_address(text) == expected


@pytest.mark.parametrize("text", ["", "web", "70000", "host:", "::1:80", "-1"])
def test_serve_address_rejects_nonsense_with_a_one_line_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"\[HOST:\]PORT|IPv6") as info:
        parse_serve_address(text)
    assert "\n" not in str(info.value)


def test_port_in_use_is_a_clear_error(view: WebView) -> None:
    host, port = view.address
    with pytest.raises(WebViewError, match=f"cannot serve the web view on {host}:{port}"):
        WebView(host, port).start()
