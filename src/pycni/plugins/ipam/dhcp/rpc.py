"""Go net/rpc over HTTP CONNECT on a unix socket (gob codec): the client the exec uses, the server the daemon runs.

The framing (handshake texts, message splitting, request/response headers) is pure; `Client` and
`serve_conn` add the socket I/O. Every client wait is bounded by a deadline. Uses `_socket`, not
`socket`, because the client is on the exec's hot path.
"""

from __future__ import annotations

import _socket
import time

from pycni.gofmt import errno_text

from . import gob
from .wire import EMPTY, REQUEST, RESPONSE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Method = tuple[Callable[[Any], Any], gob.Struct]  # handler(arg value) -> reply value, reply type

RPC_PATH = "/_goRPC_"
CONNECT_REQUEST = b"CONNECT /_goRPC_ HTTP/1.0\n\n"
CONNECTED_STATUS = "200 Connected to Go RPC"
CONNECTED_REPLY = b"HTTP/1.0 200 Connected to Go RPC\n\n"
MAX_HEAD = 8192
MAX_MESSAGE = 1 << 24  # well above any CNI config; guards against a garbage length prefix


class RPCError(Exception):
    """A transport failure, worded as Go's net/rpc client reports it."""


class ServerError(RPCError):
    """The remote method returned an error: the text is exactly the server's string."""


class RPCTimeout(RPCError):
    pass


# ---------------------------------------------------------------------------------------------
# Pure framing


def head_end(buf: bytes) -> int:
    """Where an HTTP head ends (index after the blank line), or -1. Accepts \\n\\n and \\r\\n\\r\\n."""
    a = buf.find(b"\n\n")
    b = buf.find(b"\r\n\r\n")
    ends = [i + 2 for i in (a,) if i >= 0] + [i + 4 for i in (b,) if i >= 0]
    return min(ends) if ends else -1


def reply_status(head: bytes) -> str:
    """The status ("200 Connected to Go RPC") of an HTTP reply head."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
    proto, _, status = line.partition(" ")
    if not proto.startswith("HTTP/"):
        raise RPCError(f"malformed HTTP response {line!r}")
    return status


def request_line(head: bytes) -> tuple[str, str]:
    """(method, path) of an HTTP request head."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return "", ""
    return parts[0], parts[1]


def http_reply(code: int, reason: str, body: str) -> bytes:
    """A plain-text HTTP/1.0 reply for what is not an RPC CONNECT (Go's 405 / 404 bodies)."""
    data = body.encode()
    return (f"HTTP/1.0 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


def split_message(buf: bytes | bytearray) -> tuple[bytes, int] | None:
    """The first complete gob message in `buf`: (body, bytes consumed), or None when more is needed."""
    got = gob.read_uint(bytes(buf[:9]), 0)
    if got is None:
        return None
    n, at = got
    if n > MAX_MESSAGE:
        raise gob.GobError("gob: message too large")
    if len(buf) < at + n:
        return None
    return bytes(buf[at : at + n]), at + n


def lookup_error(method: str, methods: dict[str, Any]) -> str | None:
    """Go's server.go wording when a ServiceMethod cannot be served, else None."""
    dot = method.rfind(".")
    if dot < 0:
        return f"rpc: service/method request ill-formed: {method}"
    service = method[:dot]
    if not any(m.startswith(service + ".") for m in methods):
        return f"rpc: can't find service {method}"
    if method not in methods:
        return f"rpc: can't find method {method}"
    return None


# ---------------------------------------------------------------------------------------------
# Socket I/O


class _Conn:
    """A socket with a read buffer and an optional absolute deadline (time.monotonic())."""

    def __init__(self, sock: Any, deadline: float | None = None) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.deadline = deadline

    def _fill(self) -> bool:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise RPCTimeout("timed out")
            self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except _socket.timeout:
            raise RPCTimeout("timed out") from None
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> bytes | None:
        while True:
            end = head_end(bytes(self.buf))
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[:end]
                return head
            if len(self.buf) > MAX_HEAD or not self._fill():
                return None

    def read_message(self) -> bytes | None:
        """The next gob message body; None at a clean end of stream; RPCError on a torn one."""
        while True:
            got = split_message(self.buf)
            if got is not None:
                body, used = got
                del self.buf[:used]
                return body
            if not self._fill():
                if self.buf:
                    raise RPCError("unexpected EOF")
                return None

    def read_value(self, dec: gob.Decoder) -> Any:
        """Messages until a value arrives (type definitions in between are absorbed)."""
        while True:
            body = self.read_message()
            if body is None:
                return None
            got = dec.message(body)
            if got is not None:
                return got[1]

    def send(self, data: bytes) -> None:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise RPCTimeout("timed out")
            self.sock.settimeout(left)
        try:
            self.sock.sendall(data)
        except _socket.timeout:
            raise RPCTimeout("timed out") from None


class Client:
    """net/rpc's DialHTTP("unix", path) and Call, each call bounded by `timeout` seconds."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._seq = 0
        self._enc = gob.Encoder()
        self._dec = gob.Decoder()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        conn = _Conn(sock, time.monotonic() + timeout)
        try:
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except _socket.timeout:
                raise RPCError(f"dial unix {path}: connect: i/o timeout") from None
            except OSError as exc:
                raise RPCError(f"dial unix {path}: connect: {errno_text(exc)}") from None
            try:
                conn.send(CONNECT_REQUEST)
                head = conn.read_head()
            except OSError as exc:
                raise RPCError(f"dial-http unix {path}: {errno_text(exc)}") from None
            if head is None:
                raise RPCError(f"dial-http unix {path}: unexpected EOF")
            status = reply_status(head)
            if status != CONNECTED_STATUS:
                raise RPCError(f"dial-http unix {path}: unexpected HTTP response: {status}")
        except BaseException:
            sock.close()
            raise
        self._conn = conn

    def call(self, method: str, arg_type: gob.GobType, arg: Any) -> Any:
        """Send one call and wait (bounded) for its reply value; ServerError carries the remote error."""
        seq = self._seq
        self._seq += 1
        conn = self._conn
        conn.deadline = time.monotonic() + self.timeout
        try:
            conn.send(self._enc.encode(REQUEST, {"ServiceMethod": method, "Seq": seq})
                      + self._enc.encode(arg_type, arg))
            while True:
                header = conn.read_value(self._dec)
                if header is None:
                    raise RPCError("unexpected EOF")
                body = conn.read_value(self._dec)
                if body is None:
                    raise RPCError("unexpected EOF")
                if header.get("Seq", 0) != seq:
                    continue  # a reply to something we no longer wait for
                if header.get("Error"):
                    raise ServerError(header["Error"])
                return body
        except gob.GobError as exc:
            raise RPCError(str(exc)) from None
        except RPCTimeout:
            raise
        except OSError as exc:
            raise RPCError(errno_text(exc)) from None

    def close(self) -> None:
        self._conn.sock.close()


def serve_conn(sock: Any, methods: dict[str, Method], spawn: Callable[[Callable[[], None]], None]) -> None:
    """Serve one accepted connection until the peer closes it: the CONNECT handshake, then calls.

    Each call runs through `spawn` (a thread per call, as Go runs a goroutine per call); replies are
    written whole, under a lock, in the order they finish, and clients match them by Seq.
    """
    import threading  # lazy: only the daemon serves, and `threading` is not on the exec's path

    conn = _Conn(sock)
    try:
        head = conn.read_head()
        if head is None:
            return
        verb, path = request_line(head)
        if path != RPC_PATH:
            sock.sendall(http_reply(404, "Not Found", "404 page not found\n"))
            return
        if verb != "CONNECT":
            sock.sendall(http_reply(405, "Method Not Allowed", "405 must CONNECT\n"))
            return
        sock.sendall(CONNECTED_REPLY)
        dec = gob.Decoder()
        enc = gob.Encoder()
        lock = threading.Lock()
        pending: list[threading.Event] = []

        def reply(method: str, seq: int, error: str, rtype: gob.GobType, value: Any) -> None:
            header = {"ServiceMethod": method, "Seq": seq, "Error": error}
            with lock:
                data = enc.encode(RESPONSE, header) + enc.encode(rtype, value)
                try:
                    sock.sendall(data)
                except OSError:
                    pass  # the client went away: nothing to tell

        while True:
            try:
                header = conn.read_value(dec)
                if header is None:
                    break
                arg = conn.read_value(dec)
            except (gob.GobError, RPCError):
                break  # as Go: a stream that cannot be decoded is dropped without a reply
            if arg is None:
                break
            method = header.get("ServiceMethod", "") if isinstance(header, dict) else ""
            seq = header.get("Seq", 0) if isinstance(header, dict) else 0
            err = lookup_error(method, methods)
            if err is not None:
                reply(method, seq, err, EMPTY, {})
                continue
            handler, rtype = methods[method]
            done = threading.Event()
            pending.append(done)

            def run(handler: Callable[[Any], Any] = handler, rtype: gob.GobType = rtype, method: str = method,
                    seq: int = seq, arg: Any = arg, done: threading.Event = done) -> None:
                try:
                    try:
                        value = handler(arg)
                    except Exception as exc:  # noqa: BLE001 - any method error travels as the Response's Error
                        reply(method, seq, str(exc) or type(exc).__name__, EMPTY, {})
                        return
                    reply(method, seq, "", rtype, value)
                finally:
                    done.set()

            spawn(run)
        for d in pending:  # let running calls answer before the socket closes
            d.wait()
    except OSError:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass

