#!/usr/bin/env python3
"""Probe the web view with slow, stale and hostile clients on loopback, and print the figures.

    .venv/bin/python scripts/web_hostile_clients.py            # about a minute
    .venv/bin/python scripts/web_hostile_clients.py --fd-limit 64

It starts ``device live --source <generated video> --loop --headless --serve 127.0.0.1:PORT`` (a real
process, so the figures include the recognition loop), then, each probe bounded in count and time:

1. the loop's frame rate with one ordinary viewer (the baseline);
2. under attack: 8 slow readers (32 KB/s each, from 127.0.0.2-9) and 50 slow senders (one header byte every
   2 s, reconnecting when dropped): how long a new viewer waits for its first picture, how long
   /reading.json takes, and the loop's frame rate against the baseline;
3. slow senders alone: how many are still connected after the head deadline;
4. 40 quick open/close cycles of the stream: how many got 503;
5. a burst of 50 connections: the slowest answer;
6. departures: 8 viewers close at once, with frames (the process above) and without (a view in this
   process that publishes nothing): how long until their slots are free;
7. access rules: a foreign Host, HEAD, the security headers on every kind of answer, no banner.

Only loopback addresses are contacted. Exit status 0 when every target of the issue holds, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from device.live.web import WebView  # noqa: E402

SLOW_READERS = 8
SLOW_READER_BYTES_PER_S = 32 * 1024
SLOW_SENDERS = 50
SLOW_SENDER_INTERVAL_S = 2.0
MEASURE_S = 6.0  # each frame-rate measurement
ATTACK_SETTLE_S = 4.0  # slow clients connect and fall behind before the new viewer comes
TARGETS = {
    "new viewer's first picture under attack (s)": ("<", 2.0),
    "/reading.json under attack, slowest (ms)": ("<", 200.0),
    "loop frame rate under attack / baseline": (">=", 0.90),
    "slot freed after a viewer leaves, with frames (s)": ("<", 1.0),
    "slot freed after a viewer leaves, no frames (s)": ("<", 1.0),
}


# --------------------------------------------------------------------------- the server under test
def make_video(path: Path, frames: int = 60) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(frames):
        page = np.full((480, 640, 3), 235, np.uint8)
        cv2.putText(page, "42", (170 + i % 5, 330), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 6, (20, 20, 20), 18)
        writer.write(page)
    writer.release()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(video: Path, port: int, fd_limit: int | None) -> subprocess.Popen[bytes]:
    def limit_files() -> None:
        if fd_limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    command = [sys.executable, "-m", "device", "live", "--source", str(video), "--loop", "--headless",
               "--serve", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=limit_files)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"device live stopped: {process.stderr.read().decode(errors='replace')[-500:]}")
        try:
            status, _ = get(port, "/reading.json")
            if status == 200 and frame_number(port) > 0:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("device live did not start within 60 s")


def get(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None,
        timeout: float = 5.0) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}
    finally:
        conn.close()


def frame_number(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/reading.json")
        body = conn.getresponse().read().decode()
    finally:
        conn.close()
    match = re.search(r'"frame": (\d+)', body)
    return int(match.group(1)) if match else 0


async def frame_rate(port: int, seconds: float = MEASURE_S) -> float:
    """Frames per second of the live loop, from the frame counter in /reading.json."""
    start_frame, started = await asyncio.to_thread(frame_number, port), time.monotonic()
    await asyncio.sleep(seconds)
    end_frame = await asyncio.to_thread(frame_number, port)
    return (end_frame - start_frame) / (time.monotonic() - started)


# --------------------------------------------------------------------------- clients
async def open_stream(port: int, source: str = "127.0.0.1", rcvbuf: int | None = None,
                      path: str = "/stream.mjpg") -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    status = int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0
    return reader, writer, status


async def first_picture_seconds(port: int) -> float:
    """Seconds from connecting to the end of the first JPEG part of the stream (inf when refused)."""
    started = time.monotonic()
    reader, writer, status = await open_stream(port)
    try:
        if status != 200:
            return float("inf")
        await asyncio.wait_for(reader.readuntil(b"\xff\xd9"), 10)  # JPEG end-of-image marker
        return time.monotonic() - started
    except (TimeoutError, asyncio.IncompleteReadError):
        return float("inf")
    finally:
        writer.close()


async def slow_reader(port: int, source: str, stop: asyncio.Event, statuses: list[int]) -> None:
    reader, writer, status = await open_stream(port, source, rcvbuf=64 * 1024)
    statuses.append(status)
    chunk, pause = SLOW_READER_BYTES_PER_S // 10, 0.1
    try:
        while not stop.is_set():
            if not await reader.read(chunk):
                break  # the server dropped us
            await asyncio.sleep(pause)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def slow_sender(port: int, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Sends its request head one byte every SLOW_SENDER_INTERVAL_S, reconnecting when dropped."""
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        except (OSError, TimeoutError):
            counts["connect failed"] += 1
            await asyncio.sleep(SLOW_SENDER_INTERVAL_S)
            continue
        counts["connections"] += 1
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1), SLOW_SENDER_INTERVAL_S)
                    counts["dropped"] += 1  # the server answered (408) or closed
                    break
                except TimeoutError:
                    if stop.is_set():
                        break
        except (ConnectionError, OSError):
            counts["dropped"] += 1
        finally:
            writer.close()


async def timed_reading(port: int) -> float:
    started = time.monotonic()
    status, _ = await asyncio.to_thread(get, port, "/reading.json")
    elapsed = (time.monotonic() - started) * 1000
    return elapsed if status == 200 else float("inf")


# --------------------------------------------------------------------------- probes
async def probe_attack(port: int, figures: dict[str, float]) -> None:
    # The baseline: one ordinary viewer (so every frame is JPEG-encoded, as under attack), after a warm-up.
    reader, writer, _ = await open_stream(port)
    drain = asyncio.create_task(_read_all(reader))
    await asyncio.sleep(1.0)
    figures["loop frame rate, one viewer (FPS)"] = baseline = await frame_rate(port)
    writer.close()
    drain.cancel()

    stop = asyncio.Event()
    statuses: list[int] = []
    counts = {"connections": 0, "dropped": 0, "connect failed": 0}
    attackers = [asyncio.create_task(slow_reader(port, f"127.0.0.{2 + i}", stop, statuses))
                 for i in range(SLOW_READERS)]
    attackers += [asyncio.create_task(slow_sender(port, stop, counts)) for _ in range(SLOW_SENDERS)]
    await asyncio.sleep(ATTACK_SETTLE_S)
    figures["slow readers given a stream"] = statuses.count(200)
    figures["new viewer's first picture under attack (s)"] = await first_picture_seconds(port)
    latencies = [await timed_reading(port) for _ in range(20)]
    figures["/reading.json under attack, median (ms)"] = statistics.median(latencies)
    figures["/reading.json under attack, slowest (ms)"] = max(latencies)
    under_attack = await frame_rate(port)
    figures["loop frame rate under attack (FPS)"] = under_attack
    figures["loop frame rate under attack / baseline"] = under_attack / baseline
    figures["slow-sender connections made"] = counts["connections"]
    figures["slow-sender connections that failed"] = counts["connect failed"]
    stop.set()
    await asyncio.wait(attackers, timeout=SLOW_SENDER_INTERVAL_S + 5)


async def _read_all(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while await reader.read(65536):
            pass


async def probe_slow_senders(port: int, figures: dict[str, float], hold_s: float = 8.0) -> None:
    """30 connections that send one byte every 2 s and never reconnect: how many are left after hold_s."""
    connections = []
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connections.append((reader, writer))
    deadline = time.monotonic() + hold_s
    while time.monotonic() < deadline:
        for _, writer in connections:
            if not writer.is_closing():
                with contextlib.suppress(ConnectionError, OSError):
                    writer.write(b"G")
        await asyncio.sleep(SLOW_SENDER_INTERVAL_S)
    still_open = 0
    for reader, writer in connections:
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.05)
            still_open += 0 if data or reader.at_eof() else 1
            if data:
                with contextlib.suppress(ConnectionError, OSError):
                    await asyncio.wait_for(reader.read(), 1)
        except TimeoutError:
            still_open += 1
        except (ConnectionError, OSError):
            pass
        writer.close()
    figures[f"slow senders still connected after {hold_s:.0f} s (of 30)"] = still_open


async def probe_open_close(port: int, figures: dict[str, float]) -> None:
    refused = 0
    for _ in range(40):
        _, writer, status = await open_stream(port)
        refused += status == 503
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    figures["503 in 40 quick open/close cycles"] = refused


async def probe_burst(port: int, figures: dict[str, float]) -> None:
    times = await asyncio.gather(*(timed_reading(port) for _ in range(50)))
    figures["burst of 50: slowest answer (ms)"] = max(times)


async def probe_departures_with_frames(port: int, figures: dict[str, float]) -> None:
    """8 viewers leave at once; then 8 new ones ask straight away: the time until all 8 are served."""
    streams = [await open_stream(port) for _ in range(8)]
    for _, writer, _ in streams:
        writer.close()
    started = time.monotonic()
    served = 0
    while served < 8 and time.monotonic() - started < 5:
        again = [await open_stream(port) for _ in range(8 - served)]
        served += sum(status == 200 for _, _, status in again)
        for _, writer, status in again:
            if status != 200:
                writer.close()
        streams = again
    figures["slot freed after a viewer leaves, with frames (s)"] = time.monotonic() - started
    for _, writer, _ in streams:
        writer.close()


def probe_departures_without_frames(figures: dict[str, float]) -> None:
    with WebView(port=0) as view:
        clients = []
        for _ in range(8):
            conn = http.client.HTTPConnection(*view.address, timeout=5)
            conn.request("GET", "/stream.mjpg")
            clients.append((conn, conn.getresponse()))
        deadline = time.monotonic() + 5
        while view.viewers < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        for conn, response in clients:
            response.close()
            conn.close()
        started = time.monotonic()
        while view.viewers and time.monotonic() - started < 5:
            time.sleep(0.01)
        figures["slot freed after a viewer leaves, no frames (s)"] = time.monotonic() - started


def probe_access_rules(port: int, figures: dict[str, float]) -> None:
    figures["foreign Host status"] = get(port, "/reading.json", headers={"Host": "evil.example"})[0]
    figures["HEAD / status"] = get(port, "/", method="HEAD")[0]
    missing = 0
    for method, path in [("GET", "/"), ("GET", "/app.js"), ("GET", "/reading.json"), ("GET", "/nope"),
                         ("HEAD", "/"), ("POST", "/"), ("GET", "/stream.mjpg")]:
        if path == "/stream.mjpg":
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
                head = sock.recv(4096).decode("latin-1").lower()
            headers = dict(line.split(": ", 1) for line in head.split("\r\n\r\n")[0].split("\r\n")[1:])
        else:
            headers = get(port, path, method=method)[1]
        needed = ("x-content-type-options", "content-security-policy", "cache-control")
        missing += sum(name not in headers for name in needed) + ("server" in headers)
    figures["answers missing a security header or showing a banner"] = missing


# --------------------------------------------------------------------------- main
async def run_probes(port: int, figures: dict[str, float]) -> None:
    await probe_attack(port, figures)
    await probe_slow_senders(port, figures)
    await probe_open_close(port, figures)
    await probe_burst(port, figures)
    await probe_departures_with_frames(port, figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fd-limit", type=int, default=None, metavar="N",
                        help="run the server with this open-file limit (the original probe used 64)")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="web-hostile-"))
    video = workdir / "digits.avi"
    make_video(video)
    port = free_port()
    process = start_server(video, port, args.fd_limit)
    try:
        asyncio.run(asyncio.wait_for(run_probes(port, figures), 180))
        probe_access_rules(port, figures)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    probe_departures_without_frames(figures)

    print(f"web view under hostile clients ({os.cpu_count()} cores, open-file limit "
          f"{args.fd_limit or resource.getrlimit(resource.RLIMIT_NOFILE)[0]})")
    failed = 0
    for name, value in figures.items():
        verdict = ""
        if name in TARGETS:
            op, target = TARGETS[name]
            ok = value < target if op == "<" else value >= target
            failed += not ok
            verdict = f"   target {op} {target}: {'ok' if ok else 'MISSED'}"
        print(f"  {name:58s} {value:10.3f}{verdict}")
    checks = {"foreign Host status": figures["foreign Host status"] in (403, 421),
              "HEAD / status": figures["HEAD / status"] == 200,
              "answers missing a security header or showing a banner":
                  figures["answers missing a security header or showing a banner"] == 0}
    failed += sum(not ok for ok in checks.values())
    print("all targets met" if not failed else f"{failed} target(s) missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
