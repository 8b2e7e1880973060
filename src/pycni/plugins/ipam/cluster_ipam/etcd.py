"""etcd v3 through its JSON gateway (`/v3/...`): a minimal HTTP/1.1 client over `_socket` (`_ssl` for https).

Endpoints are tried in turn with a short per-attempt timeout inside an overall budget; quorum
loss shows at once (`Grpc-Metadata-Hasleader`), and when the budget is spent the call raises
code 11 naming each endpoint's last error. Knows nothing about IPAM: keys and values are bytes.
(`http.client` costs ~40 ms to import, `_socket` ~1 ms.)
"""

from __future__ import annotations

import _socket
import binascii
import posix
import time

from pycni.gofmt import errno_text
from pycni.spec import gojson
from pycni.spec.errors import (
    INTERNAL,
    INVALID_NETWORK_CONFIG,
    TRY_AGAIN_LATER,
    CNIError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def b64(b: bytes) -> str:
    return binascii.b2a_base64(b, newline=False).decode()


def unb64(s: str) -> bytes:
    return binascii.a2b_base64(s)


def prefix_end(prefix: bytes) -> bytes:
    """The range_end covering every key that starts with `prefix`."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


class Unavailable(Exception):
    """One attempt failed in a way worth retrying elsewhere (connection, timeout, 5xx)."""


class _AuthExpired(Exception):
    pass


class Endpoint:
    __slots__ = ("host", "https", "label", "port", "url")

    def __init__(self, url: str, tls: bool) -> None:
        self.url = url
        u = url.strip()
        if "://" in u:
            scheme, u = u.split("://", 1)
            if scheme not in ("http", "https"):
                raise CNIError(INVALID_NETWORK_CONFIG, f"invalid etcd endpoint {url!r}: scheme must be http or https")
            self.https = scheme == "https"
        else:
            self.https = tls
        u = u.rstrip("/")
        if u.startswith("["):
            host, _, rest = u[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port = u.rpartition(":") if ":" in u else (u, "", "")
        if not host or (port and not port.isdigit()):
            raise CNIError(INVALID_NETWORK_CONFIG, f"invalid etcd endpoint {url!r}")
        self.host = host
        self.port = int(port) if port else 2379
        self.label = f"{host}:{self.port}" if ":" not in host else f"[{host}]:{self.port}"


class TLSFiles:
    __slots__ = ("ca", "cert", "key")

    def __init__(self, ca: str, cert: str, key: str) -> None:
        self.ca, self.cert, self.key = ca, cert, key


class _Sock(_socket.socket):
    """A plain subclass: _ssl keeps a weak reference to the socket it wraps, which the C type lacks."""


class _Conn:
    """One keep-alive HTTP/1.1 connection (plain or TLS)."""

    def __init__(self, ep: Endpoint, timeout: float, tls: TLSFiles | None) -> None:
        self.ep = ep
        fam = _socket.AF_INET6 if ":" in ep.host else _socket.AF_INET
        addr: Any = (ep.host, ep.port)
        if not _is_literal(ep.host):
            infos = _socket.getaddrinfo(ep.host, ep.port, 0, _socket.SOCK_STREAM)
            if not infos:
                raise OSError(f"cannot resolve {ep.host}")
            fam, addr = infos[0][0], infos[0][4]
        s = _Sock(fam, _socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            s.connect(addr)
            self.sock = s
            self.tls: Any = None
            if ep.https:
                self.tls = _wrap_tls(s, ep.host, tls)
        except BaseException:
            s.close()
            raise
        self.buf = b""

    def settimeout(self, t: float) -> None:
        self.sock.settimeout(t)

    def close(self) -> None:
        self.sock.close()

    def _send(self, data: bytes) -> None:
        if self.tls is not None:
            view = memoryview(data)
            while view:
                n = self.tls.write(view)
                view = view[n:]
        else:
            self.sock.sendall(data)

    def _recv(self) -> bytes:
        chunk = self.tls.read(65536) if self.tls is not None else self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed by etcd")
        return chunk

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            self.buf += self._recv()

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self.buf += self._recv()

    def request(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        self._send((f"POST {path} HTTP/1.1\r\nHost: {self.ep.label}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n{headers}\r\n").encode() + body)
        status_line = self._line()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ConnectionResetError(f"bad HTTP status line {status_line[:60]!r}")
        status = int(parts[1])
        length, chunked = -1, False
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            out = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers
                        pass
                    break
                self._fill(size + 2)
                out += self.buf[:size]
                self.buf = self.buf[size + 2:]
            return status, out
        if length < 0:  # no length: read to close (not kept alive)
            try:
                while True:
                    self.buf += self._recv()
            except ConnectionResetError:
                pass
            out, self.buf = self.buf, b""
            return status, out
        self._fill(length)
        out, self.buf = self.buf[:length], self.buf[length:]
        return status, out


def _is_literal(host: str) -> bool:
    return ":" in host or all(p.isdigit() for p in host.split(".")) and host.count(".") == 3


def _wrap_tls(s: Any, host: str, files: TLSFiles | None) -> Any:
    import _ssl  # lazy: ~10 ms to load, needed only for https endpoints

    ctx = _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name/IP
    if files is not None and files.ca:
        ctx.load_verify_locations(files.ca)
    else:
        ctx.set_default_verify_paths()
    if files is not None and files.cert:
        ctx.load_cert_chain(files.cert, files.key or None)
    obj = ctx._wrap_socket(s, False, host)  # type: ignore[attr-defined]
    obj.do_handshake()
    return obj


class Client:
    """etcd through its gateway. `start` rotates the endpoint list (spreads nodes over members);
    each call gets its own `budget` seconds and each attempt at most `attempt` seconds."""

    def __init__(self, endpoints: list[Endpoint], start: int = 0, attempt: float = 1.5, budget: float = 4.0,
                 tls: TLSFiles | None = None, username: str = "", password: str = "",
                 token_cache: Any = None) -> None:
        n = len(endpoints)
        self.endpoints = [endpoints[(start + i) % n] for i in range(n)] if n else []
        self.attempt = attempt
        self.budget = budget
        self.tls = tls
        self.username = username
        self.password = password
        self.token = ""
        self.token_cache = token_cache  # object with load() -> str and save(str), or None
        self.conn: _Conn | None = None
        self.cur = 0  # index of the endpoint that last answered
        self.round_trips = 0
        self.deadline: float | None = None  # set by start_clock: one budget for every call from then on
        self.had_outage = False  # an endpoint failed during this client's life: no grace attempt

    def start_clock(self) -> None:
        """From now on all calls together get one budget (a CNI command's bound: code 11 in time)."""
        self.deadline = time.monotonic() + self.budget

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- transport ------------------------------------------------------------------------------
    def call(self, path: str, req: dict[str, Any]) -> Any:
        """POST `req` to `path` (e.g. "/v3/kv/txn") and return the decoded JSON reply.

        Retries other endpoints on connection errors, timeouts and 5xx until the budget is spent
        (then code 11); 4xx fail at once (code 7 for bad credentials, else 999 with etcd's text).
        """
        if self.username and not self.token:
            self._authenticate()
        body = gojson.dumps(req, indent=None).encode()
        deadline = time.monotonic() + self.budget
        if self.deadline is not None:
            deadline = min(deadline, self.deadline)
        errors: dict[str, str] = {}
        reauthed = False
        delay = 0.05
        n = len(self.endpoints)
        tries = 0
        while True:
            ep = self.endpoints[self.cur]
            left = deadline - time.monotonic()
            if left <= 0.05:
                # A budget spent on anything but etcd (a CPU-starved node running hundreds of execs)
                # says nothing about etcd: such a call still gets one short attempt.
                if tries or self.had_outage:
                    break
                left = min(self.attempt, 0.5)
            try:
                return self._once(ep, path, body, min(self.attempt, left))
            except _AuthExpired:
                if reauthed or not self.username:
                    raise CNIError(INVALID_NETWORK_CONFIG, "etcd rejected the auth token") from None
                reauthed = True
                self._authenticate(fresh=True)
                continue
            except Unavailable as exc:
                errors[ep.label] = str(exc)
                self.had_outage = True
            tries += 1
            self.cur = (self.cur + 1) % n
            if tries % n == 0:  # a whole sweep failed: back off before the next one
                time.sleep(min(delay, max(0.0, deadline - time.monotonic() - 0.05)))
                delay = min(delay * 2, 0.5)
        details = "; ".join(f"{e.label}: {errors.get(e.label, 'not tried (budget spent)')}" for e in self.endpoints)
        raise CNIError(TRY_AGAIN_LATER, "etcd unavailable", details)

    def _once(self, ep: Endpoint, path: str, body: bytes, timeout: float) -> Any:
        headers = f"Grpc-Metadata-Hasleader: true\r\nGrpc-Timeout: {max(1, int(timeout * 1000) - 100)}m\r\n"
        if self.token:
            headers += f"Authorization: {self.token}\r\n"
        try:
            conn = self.conn
            if conn is None or conn.ep is not ep:
                self.close()
                conn = self.conn = _Conn(ep, timeout, self.tls)
            else:
                conn.settimeout(timeout)
            self.round_trips += 1
            status, data = conn.request(path, body, headers)
        except OSError as exc:
            self.close()
            raise Unavailable(_os_error_text(exc)) from None
        except ValueError as exc:  # garbled framing
            self.close()
            raise Unavailable(f"bad HTTP reply: {exc}") from None
        if status == 200:
            try:
                return gojson.loads(data)
            except gojson.JSONSyntaxError:
                raise Unavailable(f"HTTP 200 with a body that is not JSON: {data[:80]!r}") from None
        msg, code = _error_text(status, data)
        if status == 401 or code == 16:
            raise _AuthExpired(msg)
        if status >= 500 or code in (4, 14):
            self.close()
            raise Unavailable(f"{status} {msg}")
        if status == 400 and ("authentication failed" in msg or "user name is empty" in msg):
            raise CNIError(INVALID_NETWORK_CONFIG, f"etcd authentication failed: {msg}", ep.label)
        raise CNIError(INTERNAL, f"etcd: {status} {msg}", ep.label)

    def _authenticate(self, fresh: bool = False) -> None:
        """Get a token: the node's cached one unless `fresh` (the cached one was just refused)."""
        self.token = ""
        if self.token_cache is not None and not fresh:
            self.token = self.token_cache.load()
            if self.token:
                return
        user, self.username = self.username, ""  # no token header on the authenticate call itself
        try:
            reply = self.call("/v3/auth/authenticate", {"name": user, "password": self.password})
        finally:
            self.username = user
        tok = reply.get("token", "") if isinstance(reply, dict) else ""
        if not tok:
            raise CNIError(INVALID_NETWORK_CONFIG, "etcd authentication returned no token")
        self.token = tok
        if self.token_cache is not None:
            self.token_cache.save(tok)

    # -- KV -------------------------------------------------------------------------------------
    def txn(self, compare: list[dict[str, Any]], success: list[dict[str, Any]],
            failure: list[dict[str, Any]] | None = None) -> tuple[bool, list[Any]]:
        """One transaction; returns (succeeded, responses of the branch taken, each the inner reply)."""
        req: dict[str, Any] = {"compare": compare, "success": success}
        if failure:
            req["failure"] = failure
        reply = self.call("/v3/kv/txn", req)
        out = []
        for r in reply.get("responses") or []:
            out.append(next(iter(r.values())) if r else {})
        return bool(reply.get("succeeded")), out


# -- request builders (keys and values are bytes) ----------------------------------------------------
def op_range(key: bytes, end: bytes | None = None, keys_only: bool = False, count_only: bool = False,
             limit: int = 0, serializable: bool = False) -> dict[str, Any]:
    r: dict[str, Any] = {"key": b64(key)}
    if end is not None:
        r["range_end"] = b64(end)
    if keys_only:
        r["keys_only"] = True
    if count_only:
        r["count_only"] = True
    if limit:
        r["limit"] = str(limit)
    if serializable:
        r["serializable"] = True
    return {"request_range": r}


def op_put(key: bytes, value: bytes) -> dict[str, Any]:
    return {"request_put": {"key": b64(key), "value": b64(value)}}


def op_delete(key: bytes, end: bytes | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"key": b64(key)}
    if end is not None:
        r["range_end"] = b64(end)
    return {"request_delete_range": r}


def cmp_absent(key: bytes, end: bytes | None = None) -> dict[str, Any]:
    """True when the key (or every key in [key, end)) does not exist."""
    c: dict[str, Any] = {"target": "CREATE", "result": "EQUAL", "key": b64(key), "create_revision": "0"}
    if end is not None:
        c["range_end"] = b64(end)
    return c


def cmp_exists(key: bytes) -> dict[str, Any]:
    return {"target": "CREATE", "result": "GREATER", "key": b64(key), "create_revision": "0"}


def cmp_create(key: bytes, rev: int) -> dict[str, Any]:
    return {"target": "CREATE", "result": "EQUAL", "key": b64(key), "create_revision": str(rev)}


def cmp_mod(key: bytes, rev: int) -> dict[str, Any]:
    return {"target": "MOD", "result": "EQUAL", "key": b64(key), "mod_revision": str(rev)}


class KV:
    __slots__ = ("create", "key", "mod", "value")

    def __init__(self, key: bytes, value: bytes, create: int, mod: int) -> None:
        self.key, self.value, self.create, self.mod = key, value, create, mod


def kvs(range_reply: Any) -> list[KV]:
    """The key-values of a range reply (missing fields are zero values: the gateway omits them)."""
    out = []
    for kv in (range_reply or {}).get("kvs") or []:
        out.append(KV(unb64(kv.get("key", "")), unb64(kv.get("value", "")),
                      int(kv.get("create_revision", 0)), int(kv.get("mod_revision", 0))))
    return out


def count(range_reply: Any) -> int:
    return int((range_reply or {}).get("count", 0))


def _error_text(status: int, data: bytes) -> tuple[str, int]:
    try:
        obj = gojson.loads(data)
    except gojson.JSONSyntaxError:  # plain-text errors exist (e.g. the client-cert CN rejection)
        return data.decode("utf-8", "replace").strip()[:200] or f"HTTP {status}", 0
    if isinstance(obj, dict):
        code = obj.get("code")
        return str(obj.get("message") or obj.get("error") or f"HTTP {status}"), code if isinstance(code, int) else 0
    return f"HTTP {status}", 0


def _os_error_text(exc: OSError) -> str:
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "timeout":
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return f"connection reset ({exc})" if exc.args and isinstance(exc.args[0], str) else "connection reset"
    if exc.errno and exc.strerror == posix.strerror(exc.errno):
        return errno_text(exc)  # a plain OS error: Go's text for it
    return exc.strerror or str(exc) or type(exc).__name__  # TLS and resolver errors carry their own text
