"""The web view in a real browser: `device live --serve` on a generated video, loaded in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/install-browser.sh) and ``selenium`` (the ``dev``
extra). Selenium is pointed at the system chromedriver and browser, so Selenium Manager never downloads
anything. Without them the test is skipped, except under CI (CI=true), where it fails: CI must run it.

Every wait has a deadline and the server process is stopped (SIGINT, then killed) in a ``finally``.
A screenshot of the page is saved to tmp_path and, when ZMG_ARTIFACTS is set, into that folder.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, NoReturn

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

EXPECTED = "42"  # drawn large in a script font: `device read` reads it as 42 in every frame
FRAME_SIZE = (640, 480)
LOOP_FRAMES = 30  # with --loop the video repeats, so a second of it is enough
# Without --loop the video must outlast start-up, the browser and the waits (the loop runs ~50 FPS here).
LONG_FRAMES = 2400

URL_LINE = re.compile(r"web view at (https?://\S+)")
STARTUP_SECONDS = 60  # model loading on a slow CI machine
PAGE_SECONDS = 20  # page, MJPEG picture and reading in the browser
STOP_SECONDS = 10

# Console messages that are not the page's fault.
IGNORED_CONSOLE = ("favicon.ico",)

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under CI, which must run this test."""
    if _on_ci():
        pytest.fail(f"{reason} (CI=true: run scripts/install-browser.sh and install the dev extra)")
    pytest.skip(reason)


def _browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver) from PATH, or skip/fail."""
    if _on_ci() and importlib.util.find_spec("selenium") is None:
        _missing("selenium is not installed")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    driver = shutil.which("chromedriver")
    browser = next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)
    if browser is None or driver is None:
        _missing("no chromium/chromedriver on PATH (scripts/install-browser.sh installs them)")
    return browser, driver


def _loop_supported() -> bool:
    """True once `device live` has --loop (video files repeat): then a short video is enough."""
    help_text = subprocess.run(
        [sys.executable, "-m", "device", "live", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    return "--loop" in help_text


def _live_command(video: Path, loop: bool) -> list[str]:
    command = [sys.executable, "-m", "device", "live", "--source", str(video), "--serve", "127.0.0.1:0", "--headless"]
    return [*command, "--loop"] if loop else command


def _write_video(path: Path, frames: int) -> Path:
    """White paper with a large dark "42", moving by a few pixels as a hand-held camera would."""
    width, height = FRAME_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, FRAME_SIZE)
    assert writer.isOpened(), "OpenCV cannot write MJPG .avi here"
    try:
        for i in range(frames):
            frame = np.full((height, width, 3), 245, np.uint8)
            dx, dy = round(3 * np.sin(i / 3)), round(2 * np.cos(i / 4))
            cv2.putText(frame, EXPECTED, (150 + dx, 340 + dy), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 8,
                        (25, 25, 25), 28, cv2.LINE_AA)
            writer.write(frame)
    finally:
        writer.release()
    return path


class _Lines:
    """Drains a pipe in a thread (so the process never blocks on a full pipe) and keeps its lines."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], seconds: float) -> re.Match[str] | None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:  # the process closed the pipe: it ended
                return None
            if match := pattern.search(line):
                return match
        return None

    def text(self) -> str:
        self._thread.join(timeout=2)
        return "\n".join(self.lines)


def _stop(process: subprocess.Popen[str]) -> int:
    """Ctrl-C, as a user would; killed if it does not end in time. The exit status, negative if killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
    return process.returncode


def _chrome(browser: str, driver_path: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser  # with the Service path below, Selenium Manager is never run
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1000,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.page_load_strategy = "eager"  # the MJPEG <img> never finishes loading
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(PAGE_SECONDS)
    driver.set_script_timeout(PAGE_SECONDS)
    return driver


def _page_state(driver: Any) -> dict[str, Any]:
    return driver.execute_script(
        "const img = document.querySelector('img[src*=\"stream.mjpg\"]');"
        "const reading = document.getElementById('reading');"
        "return {reading: reading ? reading.textContent : null,"
        "        width: img ? img.naturalWidth : -1, height: img ? img.naturalHeight : -1};"
    )


def _severe_console_messages(driver: Any) -> list[str] | None:
    """SEVERE browser console entries (JavaScript errors, CSP violations), or None when unsupported."""
    try:
        entries = driver.get_log("browser")
    except Exception:  # not every driver has the legacy log endpoint
        return None
    return [
        entry.get("message", "")
        for entry in entries
        if entry.get("level") == "SEVERE" and not any(part in entry.get("message", "") for part in IGNORED_CONSOLE)
    ]


def _save_screenshot(driver: Any, tmp_path: Path) -> Path:
    shot = tmp_path / "web_view.png"
    assert driver.save_screenshot(str(shot)), "the browser took no screenshot"
    artifacts = os.environ.get("ZMG_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    return shot


def test_web_view_in_a_real_browser(tmp_path: Path) -> None:
    browser, driver_path = _browser_paths()
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    loop = _loop_supported()
    video = _write_video(tmp_path / "digits.avi", LOOP_FRAMES if loop else LONG_FRAMES)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(_live_command(video, loop), cwd=REPO, env=env, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = _Lines(process.stdout), _Lines(process.stderr)  # type: ignore[arg-type]
    driver = None
    try:
        match = stderr.wait_for(URL_LINE, STARTUP_SECONDS)
        assert match, f"no 'web view at URL' line within {STARTUP_SECONDS} s; stderr:\n{stderr.text()}"
        url = match.group(1)  # kept whole: an access token in the query stays

        driver = _chrome(browser, driver_path)
        driver.get(url)
        state: dict[str, Any] = {}

        def shows_reading_and_picture(d: Any) -> bool:
            state.update(_page_state(d))
            return re.sub(r"\s", "", state["reading"] or "") == EXPECTED and state["width"] > 0

        try:
            WebDriverWait(driver, PAGE_SECONDS, poll_frequency=0.25).until(shows_reading_and_picture)
        except TimeoutException:
            _save_screenshot(driver, tmp_path)
            pytest.fail(f"after {PAGE_SECONDS} s the page shows {state} (want reading {EXPECTED!r} and a picture); "
                        f"process {'running' if process.poll() is None else f'ended {process.returncode}'}; "
                        f"stderr:\n{stderr.text() if process.poll() is not None else ''}")
        assert (state["width"], state["height"]) == FRAME_SIZE, f"MJPEG picture is {state['width']}x{state['height']}"
        time.sleep(0.5)  # let the picture paint before the screenshot
        shot = _save_screenshot(driver, tmp_path)
        print(f"screenshot: {shot}")

        severe = _severe_console_messages(driver)
        if severe is not None:
            assert not severe, "browser console errors (JavaScript or Content-Security-Policy):\n" + "\n".join(severe)
        assert process.poll() is None, "device live ended while the page was open (video too short?)"
    finally:
        if driver is not None:
            driver.quit()
        status = _stop(process)
    assert status in (0, 130), f"device live exited with {status} after Ctrl-C; stderr:\n{stderr.text()}"
    assert "Traceback" not in stderr.text(), stderr.text()
    assert EXPECTED in stdout.text().split(), f"headless printout:\n{stdout.text()}"


def _start_live(video: Path, serve: str, token: str) -> tuple[subprocess.Popen[str], _Lines, _Lines]:
    command = [sys.executable, "-m", "device", "live", "--source", str(video), "--loop", "--headless",
               "--serve", serve, "--token", token]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, _Lines(process.stdout), _Lines(process.stderr)  # type: ignore[arg-type]


def _stream_state(driver: Any) -> dict[str, Any]:
    return driver.execute_script(
        "const img = document.getElementById('stream');"
        "return {state: document.getElementById('stream-state').textContent,"
        "        detail: document.getElementById('detail').textContent, width: img.naturalWidth};"
    )


def test_page_with_a_token_reconnects_after_the_server_restarts(tmp_path: Path) -> None:
    """The link with ?token= opens the page (a cookie carries the token on), and when `device live` stops and
    starts again the page says so and brings the picture back by itself, without a reload."""
    browser, driver_path = _browser_paths()
    if not _loop_supported():
        pytest.skip("device live has no --loop yet")
    from selenium.webdriver.support.ui import WebDriverWait

    video = _write_video(tmp_path / "digits.avi", LOOP_FRAMES)
    token = "browser-test-token"
    process, _, stderr = _start_live(video, "127.0.0.1:0", token)
    restarted = None
    driver = None
    try:
        match = stderr.wait_for(URL_LINE, STARTUP_SECONDS)
        assert match, f"no URL line; stderr:\n{stderr.text()}"
        url = match.group(1)
        assert url.endswith(f"?token={token}")
        port = int(re.search(r":(\d+)/", url).group(1))

        driver = _chrome(browser, driver_path)
        driver.get(url)
        wait = WebDriverWait(driver, PAGE_SECONDS, poll_frequency=0.25)
        wait.until(lambda d: _stream_state(d)["state"] == "picture: live" and _stream_state(d)["width"] > 0)
        assert "token" not in driver.current_url, "the token stays in the address bar"

        assert _stop(process) in (0, 130)
        wait.until(lambda d: "retrying" in _stream_state(d)["state"])

        restarted, _, restarted_err = _start_live(video, f"127.0.0.1:{port}", token)
        assert restarted_err.wait_for(URL_LINE, STARTUP_SECONDS), restarted_err.text()
        # Back-off of 1, 2, 4, 8 s at most before the page tries again; then live with new frames.
        WebDriverWait(driver, 30, poll_frequency=0.25).until(
            lambda d: _stream_state(d)["state"] == "picture: live" and "frame" in _stream_state(d)["detail"]
        )
        severe = _severe_console_messages(driver)
        if severe is not None:  # the failed fetches while the server was down are expected, nothing else
            unexpected = [m for m in severe if "reading.json" not in m and "stream.mjpg" not in m]
            assert not unexpected, "\n".join(unexpected)
    finally:
        if driver is not None:
            driver.quit()
        _stop(process)
        if restarted is not None:
            _stop(restarted)
