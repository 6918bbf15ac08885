"""The web view against unfriendly clients on loopback: quick versions of scripts/web_hostile_clients.py's probes,
plus the access rules (Host allow-list, token, security headers, protocol)."""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

import device.live.web as web
from device.live.web import WebView, choose_token, web_view_for
from device.live.webserver import CONTENT_SECURITY_POLICY, TOKEN_COOKIE, ServerLimits
from tests.test_web import FRAME_SHAPE, CameraStandIn, MjpegClient, decode, wait_until

EXPECTED_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cache-control": "no-store",
}


@pytest.fixture
def view() -> Iterator[WebView]:
    with WebView(port=0) as served:
        yield served


def raw_request(view: WebView, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are and return everything the server answers until it closes."""
    with socket.create_connection(view.address, timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request(view: WebView, method: str, path: str, headers: dict[str, str] | None = None
            ) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(*view.address, timeout=5)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode()


# --------------------------------------------------------------------------- protocol
def test_head_answers_like_get_without_a_body(view: WebView) -> None:
    got, head = request(view, "GET", "/"), request(view, "HEAD", "/")
    assert head.status == 200
    assert head.getheader("Content-Length") == got.getheader("Content-Length")
    answer = raw_request(view, b"HEAD / HTTP/1.0\r\n\r\n")
    assert answer.endswith(b"\r\n\r\n"), "a HEAD answer carries no body"


def test_head_of_the_stream_takes_no_viewer_slot(view: WebView) -> None:
    response = request(view, "HEAD", "/stream.mjpg")
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    assert view.viewers == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9: no version
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / FTP/1.0\r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.0\r\nno colon here\r\n\r\n", 400),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.0\r\n\r\n", 414),
        (b"GET / HTTP/1.0\r\n" + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    ],
)
def test_malformed_requests_get_a_real_status_line(view: WebView, raw: bytes, status: int) -> None:
    answer = raw_request(view, raw)
    assert status_line(answer).startswith(f"HTTP/1.1 {status} ")


def test_every_answer_carries_the_security_headers_and_no_banner(view: WebView) -> None:
    for method, path in [("GET", "/"), ("GET", "/app.js"), ("GET", "/reading.json"), ("GET", "/nope"),
                         ("DELETE", "/"), ("HEAD", "/")]:
        response = request(view, method, path)
        headers = {name.lower(): value for name, value in response.getheaders()}
        for name, value in EXPECTED_SECURITY_HEADERS.items():
            assert headers.get(name) == value, (method, path, name)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "server" not in headers, "no version banner"
    answer = raw_request(view, b"GET /\r\n\r\n").lower()
    assert b"x-content-type-options: nosniff" in answer  # refusals too


def test_favicon_is_answered_without_an_error(view: WebView) -> None:
    assert request(view, "GET", "/favicon.ico").status == 204


# --------------------------------------------------------------------------- Host allow-list
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "attacker.localhost.evil"])
def test_a_foreign_host_name_is_refused(view: WebView, host: str) -> None:
    for path in ("/", "/reading.json", "/stream.mjpg"):
        assert request(view, "GET", path, {"Host": host}).status == 421


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:1234", "[::1]:8000"])
def test_this_machines_names_and_addresses_are_served(view: WebView, host: str) -> None:
    assert request(view, "GET", "/reading.json", {"Host": host}).status == 200


def test_allow_host_adds_a_name() -> None:
    with WebView(port=0, allow_hosts=["digits.example.org"]) as served:
        assert request(served, "GET", "/", {"Host": "digits.example.org:8000"}).status == 200
        assert request(served, "GET", "/", {"Host": "other.example.org"}).status == 421


def test_http_1_0_without_host_is_served(view: WebView) -> None:
    assert status_line(raw_request(view, b"GET /reading.json HTTP/1.0\r\n\r\n")) == "HTTP/1.1 200 OK"


# --------------------------------------------------------------------------- token
@pytest.fixture
def guarded() -> Iterator[WebView]:
    with WebView(port=0, token="s3cret-token") as served:
        yield served


def test_without_the_token_everything_is_401(guarded: WebView) -> None:
    for path in ("/", "/reading.json", "/stream.mjpg", "/app.js"):
        response = request(guarded, "GET", path)
        assert response.status == 401, path
        assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert guarded.viewers == 0


def test_a_wrong_token_is_401(guarded: WebView) -> None:
    assert request(guarded, "GET", "/reading.json?token=s3cret-tokem").status == 401
    assert request(guarded, "GET", "/reading.json", {"Authorization": "Bearer wrong"}).status == 401
    assert request(guarded, "GET", "/", {"Cookie": f"{TOKEN_COOKIE}=s3cret"}).status == 401


def test_the_link_with_the_token_sets_a_cookie_and_leaves_the_address_bar(guarded: WebView) -> None:
    assert guarded.url.endswith("/?token=s3cret-token")
    response = request(guarded, "GET", "/?token=s3cret-token")
    assert response.status == 303
    assert response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith(f"{TOKEN_COOKIE}=s3cret-token;")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = request(guarded, "GET", "/", {"Cookie": cookie.split(";")[0]})
    assert page.status == 200


def test_scripts_may_use_the_query_or_a_bearer_header(guarded: WebView) -> None:
    assert request(guarded, "GET", "/reading.json?token=s3cret-token").status == 200
    assert request(guarded, "GET", "/reading.json", {"Authorization": "Bearer s3cret-token"}).status == 200


def test_loopback_needs_no_token(view: WebView) -> None:
    assert view.token is None
    assert view.url.endswith(f":{view.address[1]}/")
    assert request(view, "GET", "/reading.json").status == 200


def test_the_access_log_names_requests_but_never_the_token(guarded: WebView, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="device.live.web"):
        request(guarded, "GET", "/reading.json?token=s3cret-token")
        request(guarded, "GET", "/nope?token=s3cret-token")
        assert wait_until(lambda: len(caplog.records) >= 2, 2)
    lines = [record.getMessage() for record in caplog.records]
    assert any('"GET /reading.json" 200' in line and "127.0.0.1" in line for line in lines), lines
    assert any('"GET /nope" 404' in line for line in lines), lines
    assert not any("s3cret" in line for line in lines)


def test_choose_token_requires_one_off_loopback() -> None:
    assert choose_token("127.0.0.1", environ={}) is None
    assert choose_token("localhost", environ={}) is None
    made, again = choose_token("0.0.0.0", environ={}), choose_token("0.0.0.0", environ={})
    assert made and again and made != again and len(made) >= 20
    assert choose_token("0.0.0.0", no_auth=True, environ={"ZMG_WEB_TOKEN": "x"}) is None
    assert choose_token("0.0.0.0", environ={"ZMG_WEB_TOKEN": "from-env"}) == "from-env"
    assert choose_token("0.0.0.0", "given", environ={"ZMG_WEB_TOKEN": "from-env"}) == "given"
    assert choose_token("127.0.0.1", "given", environ={}) == "given"  # asked for explicitly


def test_serve_flags_make_the_view() -> None:
    args = argparse.Namespace(serve=("0.0.0.0", 0), token=None, no_auth=False, allow_host=["pi.example"])
    view = web_view_for(args)  # not started: no socket on the network
    assert view.token and "?token=" + view.token in view.url
    assert web_view_for(argparse.Namespace(serve=("0.0.0.0", 0), token=None, no_auth=True, allow_host=[])).token is None


# --------------------------------------------------------------------------- slow and departing clients
def test_a_slow_sender_is_cut_off_at_the_head_deadline() -> None:
    with WebView(port=0, limits=ServerLimits(head_deadline_s=0.5)) as served:
        with socket.create_connection(served.address, timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(b"GET / HTTP/1.0\r\nX-Slow: ")
            answer = sock.recv(4096)
            while chunk := sock.recv(4096):
                answer += chunk
            assert time.monotonic() - started < 3
        assert status_line(answer).startswith("HTTP/1.1 408 ")


def test_when_connections_run_out_slow_senders_make_room() -> None:
    with WebView(port=0, limits=ServerLimits(max_connections=8)) as served:
        slow = [socket.create_connection(served.address, timeout=5) for _ in range(8)]
        try:
            for sock in slow:
                sock.sendall(b"GET / HTTP/1.0\r\n")  # and never the rest
            assert wait_until(lambda: len(served._server.connections) == 8)
            for _ in range(3):
                assert request(served, "GET", "/reading.json").status == 200
        finally:
            for sock in slow:
                sock.close()


def test_a_departed_viewer_frees_its_slot_at_once_without_new_frames(view: WebView) -> None:
    clients = []
    for _ in range(3):
        client = MjpegClient(view)
        assert client.status == 200
        clients.append(client)
    assert wait_until(lambda: view.viewers == 3, 2)
    for client in clients:
        client.close()
    # No frame is published: the server notices the closed sockets by itself.
    assert wait_until(lambda: view.viewers == 0, 1.0)


def test_stream_state_is_reported_to_the_page(view: WebView) -> None:
    def state(stream_id: str) -> str:
        conn = http.client.HTTPConnection(*view.address, timeout=5)
        conn.request("GET", f"/reading.json?stream={stream_id}")
        value = json.loads(conn.getresponse().read())["stream"]
        conn.close()
        return value

    assert state("abc123") == "unknown"
    conn = http.client.HTTPConnection(*view.address, timeout=5)
    conn.request("GET", "/stream.mjpg?id=abc123")
    response = conn.getresponse()
    assert response.status == 200
    assert wait_until(lambda: state("abc123") == "live", 2)
    response.close()
    conn.close()
    assert wait_until(lambda: state("abc123") == "ended", 2)


def test_one_address_cannot_take_every_slot() -> None:
    with WebView(port=0, max_streams_per_client=2) as served:
        first, second = MjpegClient(served), MjpegClient(served)
        assert (first.status, second.status) == (200, 200)
        third = request(served, "GET", "/stream.mjpg?id=third")
        assert third.status == 503  # nobody is falling behind (no frames), so nobody is dropped
        assert third.getheader("Retry-After")
        first.close()
        second.close()


def stalled_viewer(view: WebView) -> socket.socket:
    """A viewer that asks for the stream and never reads: its buffers fill with the first frames."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(view.address)
    sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
    return sock


def test_a_viewer_that_cannot_take_a_frame_in_time_is_dropped(monkeypatch) -> None:
    monkeypatch.setattr(web, "WRITE_DEADLINE_S", 0.5)
    with WebView(port=0) as served, CameraStandIn(served):
        sock = stalled_viewer(served)
        assert wait_until(lambda: served.viewers == 1, 2)
        assert wait_until(lambda: served.viewers == 0, 5)
        sock.close()


def test_a_new_viewer_takes_the_slot_of_one_falling_behind(monkeypatch) -> None:
    monkeypatch.setattr(web, "LAG_GRACE_S", 0.3)
    monkeypatch.setattr(web, "WRITE_DEADLINE_S", 30.0)  # the slow one is not dropped by the deadline
    with WebView(port=0, max_viewers=1) as served, CameraStandIn(served):
        slow = stalled_viewer(served)
        assert wait_until(lambda: served.viewers == 1, 2)
        time.sleep(1.0)  # long enough to be judged; it takes no frames
        newcomer = MjpegClient(served)
        assert newcomer.status == 200
        assert decode(newcomer.next_jpeg()).shape == FRAME_SHAPE
        assert served.viewers == 1
        newcomer.close()
        slow.close()


def test_a_full_house_of_healthy_viewers_still_turns_newcomers_away(monkeypatch) -> None:
    monkeypatch.setattr(web, "LAG_GRACE_S", 0.0)
    with WebView(port=0, max_viewers=1) as served:
        steady = MjpegClient(served)
        for _ in range(5):  # it takes every frame
            served.publish(np.zeros(FRAME_SHAPE, np.uint8), [], None)
            decode(steady.next_jpeg())
        assert request(served, "GET", "/stream.mjpg").status == 503
        steady.close()
