"""A small HTTP/1.x server that treats every client as untrusted: asyncio, standard library only.

Why not ``http.server``: it spends a thread per connection and has no deadline for the request head, so
slow senders (one header byte every few seconds) hold threads and sockets for ever. Why not aiohttp: it
has no deadline for the request head either, and the web view needs only GET and HEAD of four routes;
asyncio gives one thread for every connection, and a deadline on every read and write.

The rules, for every connection:

- one request per connection (``Connection: close``); its head (request line and headers) must arrive
  complete within ``HEAD_DEADLINE_S`` and fit in ``MAX_HEAD_BYTES``, or the connection gets 408/414/431;
- HTTP/1.0 and 1.1 only (a bare HTTP/0.9 line gets 400, HTTP/2+ 505), GET and HEAD only (else 405);
- the ``Host`` header must name this machine (``HostAllowList``): a web page elsewhere cannot read the
  camera through DNS rebinding (421 otherwise);
- when a token is set (``Access``), every route but ``/favicon.ico`` needs it: as ``?token=``, as
  ``Authorization: Bearer``, or as the cookie that ``/?token=`` sets (401 otherwise; compared in
  constant time; never logged);
- at most ``max_connections`` open connections (below the process's file limit); when full, the oldest
  connection still sending its head after half a second is dropped for the newcomer (only a slow sender is still
  at it), and when there is none, newcomers wait in the listening socket's backlog;
- every response carries the security headers (``SECURITY_HEADERS``) and no version banner;
- each request is logged at INFO (``-v``): client, method, path without its query, status.

Handlers are coroutines ``handler(request, connection)`` that answer through ``Connection.respond`` or
stream with ``Connection.start_stream`` and ``Connection.send``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import resource
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger("device.live.web")

HEAD_DEADLINE_S = 5.0  # a browser sends its request head in milliseconds; a slow sender is cut off here
WRITE_DEADLINE_S = 5.0  # a response (or one frame of a stream) that cannot be written in this time is dropped
MAX_REQUEST_LINE_BYTES = 4096
MAX_HEAD_BYTES = 8192
MAX_CONNECTIONS = 128  # lowered to fit the process's open-file limit
MIN_AGE_TO_DROP_S = 0.5  # a connection still sending its head after this may make room for a newcomer
FILES_KEPT_FREE = 32  # open-file slots left for the camera, the model and log files
BACKLOG = 128  # a burst of new connections waits in the kernel instead of being refused
TOKEN_COOKIE = "zmg_digits_token"
TOKEN_COOKIE_SECONDS = 30 * 24 * 3600
PUBLIC_PATHS = frozenset({"/favicon.ico"})  # answered without the token (204), so browsers log no error

# A page that passes this policy loads its script and style from this server only, and no other site can
# frame it. The web view's page has no inline script or style, so it needs no 'unsafe-inline'.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


class ClientGone(Exception):
    """The client closed its connection, or could not take a write within its deadline."""


@dataclass(frozen=True)
class Request:
    """One parsed request head. ``path`` is percent-decoded; ``query`` keeps the first value of each name."""

    method: str
    path: str
    query: dict[str, str]
    version: str
    headers: dict[str, str]  # lower-case names
    client: str  # the client's address
    local: str  # the address of this machine that the client connected to

    @property
    def is_head(self) -> bool:
        return self.method == "HEAD"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses only this machine can reach."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _machine_names() -> set[str]:
    names = {"localhost"}
    hostname = socket.gethostname().lower()
    if hostname:
        names |= {hostname, f"{hostname}.local"}
        with contextlib.suppress(OSError):
            names.add(socket.getfqdn().lower())
    return names


@dataclass(frozen=True)
class HostAllowList:
    """Which names a request's ``Host`` may carry: this machine's names and addresses, and the user's extras.

    An IP literal is accepted when it is the address the client actually connected to (or loopback); a name
    must be on the list. ``*`` among the extras accepts any host (behind a reverse proxy that checks it).
    """

    names: frozenset[str]

    @classmethod
    def for_address(cls, bound_host: str, extra: Iterable[str] = ()) -> HostAllowList:
        names = _machine_names() | {bound_host.lower().strip("[]")} | {name.lower().strip("[]") for name in extra}
        return cls(frozenset(names))

    def allows(self, host_header: str | None, local_address: str) -> bool:
        if host_header is None:
            return True  # an HTTP/1.0 client without Host; browsers always send one
        host = _host_without_port(host_header).lower()
        if "*" in self.names or host in self.names:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or str(address) == local_address.split("%", 1)[0]


def _host_without_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


@dataclass(frozen=True)
class Access:
    """The shared secret of the web view; None means open (the default on loopback)."""

    token: str | None = None

    def allows(self, request: Request) -> bool:
        if self.token is None:
            return True
        return any(hmac.compare_digest(given.encode(), self.token.encode()) for given in _offered_tokens(request))


def _offered_tokens(request: Request) -> list[str]:
    offered = []
    if "token" in request.query:
        offered.append(request.query["token"])
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        offered.append(credentials.strip())
    for part in request.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == TOKEN_COOKIE:
            offered.append(value)
    return offered


class Connection:
    """One client connection: answer it once (``respond``), or stream to it (``start_stream`` + ``send``).

    ``gone`` completes when the client closes its side or resets; a streaming handler waits on it beside
    its own events, so a departed client is noticed at once, even when nothing is being written.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        local = writer.get_extra_info("sockname") or ("?", 0)
        self.client, self.local = str(peer[0]), str(local[0])
        self.opened = time.monotonic()
        self.in_head = True  # still sending its request head: the first to go when connections run out
        self.status = 0
        self.gone: asyncio.Future[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._extra_headers: list[tuple[str, str]] = []

    def add_header(self, name: str, value: str) -> None:
        """A header for the response still to be sent (e.g. Set-Cookie)."""
        self._extra_headers.append((name, value))

    def _head(self, status: int, headers: Iterable[tuple[str, str]]) -> bytes:
        self.status = status
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Date: {formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in (*headers, *self._extra_headers, *SECURITY_HEADERS)]
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def respond(
        self, status: int, content_type: str, body: bytes, *, head_only: bool = False,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """A complete response; ``head_only`` (a HEAD request) sends the headers without the body."""
        head = self._head(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers])
        await self._write(head if head_only else head + body)

    async def respond_text(self, status: int, text: str, *, head_only: bool = False,
                           headers: Iterable[tuple[str, str]] = ()) -> None:
        await self.respond(status, "text/plain; charset=utf-8", f"{text}\n".encode(), head_only=head_only,
                           headers=headers)

    async def start_stream(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        """The head of a response whose body follows in ``send`` calls, until the connection closes."""
        self._watch_for_departure()
        await self._write(self._head(status, headers))

    async def send(self, data: bytes, deadline: float = WRITE_DEADLINE_S) -> None:
        """Write a part of a stream; raises ClientGone if the client left or cannot take it within ``deadline``."""
        await self._write(data, deadline)

    async def _write(self, data: bytes, deadline: float = WRITE_DEADLINE_S) -> None:
        if self.writer.is_closing() or (self.gone is not None and self.gone.done()):
            raise ClientGone
        self.writer.write(data)
        try:
            await asyncio.wait_for(self.writer.drain(), deadline)
        except (TimeoutError, ConnectionError, OSError) as err:
            raise ClientGone from err

    def _watch_for_departure(self) -> None:
        """Read (and discard) whatever the client sends after its request, to learn at once when it leaves."""
        if self.gone is None:
            self.gone = asyncio.get_running_loop().create_future()
            self._watcher = asyncio.get_running_loop().create_task(self._read_until_closed())

    async def _read_until_closed(self) -> None:
        try:
            while await self.reader.read(4096):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            if self.gone is not None and not self.gone.done():
                self.gone.set_result(None)

    def limit_buffering(self, send_buffer_bytes: int) -> None:
        """Small send buffers for a stream, so a client that cannot keep up is noticed within a frame or two
        instead of after megabytes of kernel buffer (which also make its picture seconds late)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
        self.writer.transport.set_write_buffer_limits(high=send_buffer_bytes // 4)

    async def close(self) -> None:
        """Hand the rest of the response to the kernel and close; a client that will not take it is reset."""
        if self.writer.is_closing():
            return self.abort()
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), WRITE_DEADLINE_S)
        except (TimeoutError, ConnectionError, OSError):
            self.abort()

    def abort(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


Handler = Callable[[Request, Connection], Awaitable[None]]


@dataclass
class ServerLimits:
    head_deadline_s: float = HEAD_DEADLINE_S
    max_connections: int = MAX_CONNECTIONS


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """``wanted``, lowered so that the connections leave FILES_KEPT_FREE of the process's file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - FILES_KEPT_FREE))


@dataclass
class HttpServer:
    """Routes, access rules and limits; ``serve(sock)`` runs it on a listening socket in the current loop."""

    routes: dict[str, Handler]
    hosts: HostAllowList
    access: Access = field(default_factory=Access)
    limits: ServerLimits = field(default_factory=ServerLimits)
    connections: set[Connection] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    _room: asyncio.Event = field(init=False, repr=False)

    async def serve(self, sock: socket.socket) -> asyncio.Task[None]:
        """Accept connections on ``sock`` (listening) until the returned task is cancelled."""
        self.limits.max_connections = connection_cap(self.limits.max_connections)
        sock.setblocking(False)
        self._room = asyncio.Event()
        return asyncio.get_running_loop().create_task(self._accept_loop(sock))

    async def _accept_loop(self, sock: socket.socket) -> None:
        # Our own accept loop, not asyncio.start_server: when the connections are used up, new ones wait in
        # the kernel's backlog (costing nothing) instead of being accepted and closed in a busy loop.
        loop = asyncio.get_running_loop()
        while True:
            while len(self.connections) >= self.limits.max_connections and not self._make_room():
                self._room.clear()
                with contextlib.suppress(TimeoutError):  # look again: senders in their head grow old
                    await asyncio.wait_for(self._room.wait(), MIN_AGE_TO_DROP_S / 4)
            try:
                client, _ = await loop.sock_accept(sock)
            except OSError as err:  # out of files (EMFILE) or a connection reset before accept
                log.debug("web view: accept failed: %s", err)
                await asyncio.sleep(0.05)
                continue
            task = loop.create_task(self._serve_socket(client))
            self._tasks.add(task)  # held until done: the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)

    async def _serve_socket(self, client: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=client, limit=MAX_REQUEST_LINE_BYTES)
        except OSError:
            client.close()
            return
        connection = Connection(reader, writer)
        self.connections.add(connection)
        try:
            await self._handle(connection)
        except (ClientGone, ConnectionError, OSError):
            pass
        except Exception:
            log.debug("web view: error serving %s", connection.client, exc_info=True)
        finally:
            self.connections.discard(connection)
            self._room.set()
            await connection.close()

    def _make_room(self) -> bool:
        """Drop the oldest connection still sending its request head after MIN_AGE_TO_DROP_S (a browser sends
        its head in milliseconds, so only a slow sender is still at it); False if there is none."""
        now = time.monotonic()
        slow = [c for c in self.connections if c.in_head and now - c.opened >= MIN_AGE_TO_DROP_S]
        if not slow:
            return False
        oldest = min(slow, key=lambda c: c.opened)
        self.connections.discard(oldest)
        oldest.abort()
        return True

    async def _handle(self, connection: Connection) -> None:
        try:
            head = await asyncio.wait_for(_read_head(connection.reader), self.limits.head_deadline_s)
        except TimeoutError:
            return await self._refuse(connection, 408, "request head not received in time")
        except _HeadTooLarge as err:
            return await self._refuse(connection, err.status, str(err))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return  # closed before finishing its request: nothing to answer
        connection.in_head = False
        request = _parse(head, connection)
        if isinstance(request, tuple):
            status, reason = request
            return await self._refuse(connection, status, reason)
        await self._dispatch(request, connection)

    async def _dispatch(self, request: Request, connection: Connection) -> None:
        head_only = request.is_head
        if request.method not in ("GET", "HEAD"):
            await connection.respond_text(405, "only GET and HEAD", head_only=head_only,
                                          headers=[("Allow", "GET, HEAD")])
        elif not self.hosts.allows(request.headers.get("host"), connection.local):
            await connection.respond_text(
                421, "this server does not answer to that host name (device live --allow-host NAME adds one)",
                head_only=head_only,
            )
        elif request.path in PUBLIC_PATHS:
            await connection.respond(204, "text/plain", b"", head_only=head_only)
        elif not self.access.allows(request):
            await connection.respond_text(
                401, "a token is needed: open the link that `device live` printed, with its ?token=...",
                head_only=head_only, headers=[("WWW-Authenticate", 'Bearer realm="zmg-digits"')],
            )
        elif "token" in request.query and request.path == "/" and self.access.token is not None:
            # Keep the token out of the address bar and history: a cookie carries it from here on.
            cookie = f"{TOKEN_COOKIE}={self.access.token}; Max-Age={TOKEN_COOKIE_SECONDS}; Path=/"
            connection.add_header("Set-Cookie", f"{cookie}; HttpOnly; SameSite=Strict")
            await connection.respond_text(303, "see /", head_only=head_only, headers=[("Location", "/")])
        elif (handler := self.routes.get(request.path)) is not None:
            await handler(request, connection)
        else:
            await connection.respond_text(404, "not found", head_only=head_only)
        _log_request(request, connection)

    async def _refuse(self, connection: Connection, status: int, reason: str) -> None:
        log.info('%s "-" %d (%s)', connection.client, status, reason)
        with contextlib.suppress(ClientGone):
            await connection.respond_text(status, reason)


class _HeadTooLarge(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """The request line and header lines, up to and including the empty line (the caller sets the deadline)."""
    try:
        lines = [await reader.readuntil(b"\n")]
    except asyncio.LimitOverrunError:
        raise _HeadTooLarge(414, "request line too long") from None
    if len(lines[0]) > MAX_REQUEST_LINE_BYTES:
        raise _HeadTooLarge(414, "request line too long")
    size = len(lines[0])
    while lines[-1].strip():  # up to the empty line that ends the head (a blank first line is a bad request)
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise _HeadTooLarge(431, "request header fields too large") from None
        size += len(line)
        if size > MAX_HEAD_BYTES:
            raise _HeadTooLarge(431, "request header fields too large")
        lines.append(line)
    return b"".join(lines)


def _parse(head: bytes, connection: Connection) -> Request | tuple[int, str]:
    """The request in ``head``, or (status, reason) when it is not HTTP/1.x as this server accepts it."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return 400, "undecodable request"
    request_line, *header_lines = [line.rstrip("\r") for line in text.split("\n")[:-2]] or [""]
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return 400, "not an HTTP/1.x request"
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        return (505, "HTTP/1.0 or HTTP/1.1 only") if version[5:6].isdigit() else (400, "bad HTTP version")
    if not method.isalpha() or not method.isupper() or not target.startswith("/"):
        return 400, "bad request line"
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            return 400, "bad header line"
        headers.setdefault(name.lower(), value.strip())
    if version == "HTTP/1.1" and "host" not in headers:
        return 400, "HTTP/1.1 needs a Host header"
    split = urlsplit(target)
    query = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(name, value)
    return Request(method, unquote(split.path), query, version, headers, connection.client, connection.local)


def _log_request(request: Request, connection: Connection) -> None:
    # The path only: a query may hold the token, which never goes into a log.
    log.info('%s "%s %s" %d', connection.client, request.method, request.path, connection.status)
