"""cluster-ipam's gateway client against a scripted HTTP server on 127.0.0.1 (no etcd needed)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pycni.plugins.ipam.cluster_ipam import etcd as E
from pycni.spec.errors import CNIError


class Script:
    """A one-thread HTTP server answering each request with the next canned reply."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while self.replies:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            break
                        buf += data
                    if b"\r\n\r\n" not in buf:
                        break
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(buf) < n:
                        buf += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + buf[:n])
                    buf = buf[n:]
                    reply = self.replies.pop(0)
                    if reply == b"HANG":
                        time.sleep(3)
                        break
                    conn.sendall(reply)
                    if b"Connection: close" in reply:
                        break

    def close(self) -> None:
        self.sock.close()


def http(status: str, body: bytes, chunked: bool = False) -> bytes:
    if chunked:
        mid = len(body) // 2
        parts = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:mid], body[mid:]) if p)
        return f"HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + parts + b"0\r\n\r\n"
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def client(*ports: int, budget: float = 2.0) -> E.Client:
    return E.Client([E.Endpoint(f"127.0.0.1:{p}", False) for p in ports], attempt=0.5, budget=budget)


def test_keep_alive_content_length_and_chunked_replies() -> None:
    srv = Script([http("200 OK", b'{"succeeded":true,"responses":[{"response_put":{}}]}'),
                  http("200 OK", b'{"responses":[{"response_range":{"kvs":[{"key":"YQ==","value":"Yg==",'
                                 b'"create_revision":"3","mod_revision":"4"}],"count":"1"}}]}', chunked=True)])
    c = client(srv.port)
    ok, res = c.txn([E.cmp_absent(b"a")], [E.op_put(b"a", b"b")])
    assert ok and res == [{}]
    ok, res = c.txn([], [E.op_range(b"a")])
    assert not ok  # "succeeded" omitted = false
    (kv,) = E.kvs(res[0])
    assert (kv.key, kv.value, kv.create, kv.mod) == (b"a", b"b", 3, 4) and E.count(res[0]) == 1
    assert c.round_trips == 2
    head = srv.requests[0].decode()
    assert head.startswith("POST /v3/kv/txn HTTP/1.1\r\n")
    assert "Grpc-Metadata-Hasleader: true" in head and "Grpc-Timeout: 400m" in head
    assert '"create_revision":"0"' in head and '"key":"YQ=="' in head
    c.close()
    srv.close()


def test_fails_over_on_refused_and_503_then_succeeds() -> None:
    dead = free_port()
    srv = Script([http("503 Service Unavailable", b'{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}'),
                  http("200 OK", b'{"succeeded":true}')])
    c = client(dead, srv.port)
    ok, _ = c.txn([], [])
    assert ok and c.round_trips == 2  # refused costs no round trip; 503 then success
    srv.close()


def test_unreachable_is_code_11_naming_each_endpoint_within_budget() -> None:
    a, b = free_port(), free_port()
    c = client(a, b, budget=1.0)
    t = time.monotonic()
    with pytest.raises(CNIError) as e:
        c.txn([], [])
    assert time.monotonic() - t < 1.5
    assert e.value.code == 11 and e.value.msg == "etcd unavailable"
    assert f"127.0.0.1:{a}: connection refused" in e.value.details
    assert f"127.0.0.1:{b}: connection refused" in e.value.details


def test_a_hanging_member_times_out_per_attempt() -> None:
    srv = Script([b"HANG"])
    c = client(srv.port, budget=1.2)
    with pytest.raises(CNIError) as e:
        c.txn([], [])
    assert e.value.code == 11 and "timed out" in e.value.details
    srv.close()


def test_4xx_fail_at_once_including_plain_text_bodies() -> None:
    srv = Script([http("400 Bad Request", b"CommonName of client sending a request against gateway will be ignored"),
                  http("403 Forbidden", b'{"error":"etcdserver: permission denied","code":7}'),
                  http("400 Bad Request", b'{"message":"etcdserver: authentication failed, invalid user ID or password","code":3}')])
    c = client(srv.port)
    with pytest.raises(CNIError) as e:
        c.txn([], [])
    assert e.value.code == 999 and "CommonName" in e.value.msg
    with pytest.raises(CNIError) as e:
        c.txn([], [])
    assert e.value.code == 999 and "permission denied" in e.value.msg
    with pytest.raises(CNIError) as e:
        c.txn([], [])
    assert e.value.code == 7
    srv.close()


def test_token_is_sent_and_renewed_once_on_401() -> None:
    srv = Script([http("200 OK", b'{"token":"T1"}'),
                  http("401 Unauthorized", b'{"error":"etcdserver: invalid auth token","code":16}'),
                  http("200 OK", b'{"token":"T2"}'),
                  http("200 OK", b'{"succeeded":true}')])
    c = E.Client([E.Endpoint(f"127.0.0.1:{srv.port}", False)], username="u", password="p")
    assert c.txn([], [])[0]
    reqs = [r.decode() for r in srv.requests]
    assert reqs[0].startswith("POST /v3/auth/authenticate") and "Authorization" not in reqs[0]
    assert "Authorization: T1" in reqs[1] and "Authorization: T2" in reqs[3]
    srv.close()


def test_endpoint_forms() -> None:
    assert (E.Endpoint("https://[::1]:2380", False).label, E.Endpoint("[::1]", False).port) == ("[::1]:2380", 2379)
    e = E.Endpoint("etcd.local:2379", True)
    assert (e.host, e.https) == ("etcd.local", True)
    with pytest.raises(CNIError):
        E.Endpoint("127.0.0.1:http", False)


def test_prefix_end_and_b64() -> None:
    assert E.prefix_end(b"/a/") == b"/a0"
    assert E.unb64(E.b64(b"\x00\xffx")) == b"\x00\xffx"


class _Cache:
    def __init__(self, token: str) -> None:
        self.token = token
        self.saved: list[str] = []

    def load(self) -> str:
        return self.token

    def save(self, token: str) -> None:
        self.saved.append(token)
        self.token = token


def test_a_refused_cached_token_is_replaced_not_reused() -> None:
    srv = Script([http("401 Unauthorized", b'{"error":"etcdserver: invalid auth token","code":16}'),
                  http("200 OK", b'{"token":"NEW"}'),
                  http("200 OK", b'{"succeeded":true}')])
    cache = _Cache("STALE")
    c = E.Client([E.Endpoint(f"127.0.0.1:{srv.port}", False)], username="u", password="p", token_cache=cache)
    assert c.txn([], [])[0]
    reqs = [r.decode() for r in srv.requests]
    assert "Authorization: STALE" in reqs[0] and reqs[1].startswith("POST /v3/auth/authenticate")
    assert "Authorization: NEW" in reqs[2] and cache.saved == ["NEW"]
    srv.close()


def test_start_clock_bounds_all_later_calls_together() -> None:
    c = client(free_port(), budget=0.6)
    c.start_clock()
    t = time.monotonic()
    for _ in range(3):
        with pytest.raises(CNIError):
            c.txn([], [])
    assert time.monotonic() - t < 1.0  # one budget for the three calls, not three


def test_a_budget_spent_off_etcd_still_gets_one_attempt() -> None:
    # A node running hundreds of execs can starve one past its budget before it ever reaches
    # etcd; that is no evidence of an outage, so the call still goes out once.
    srv = Script([http("200 OK", b'{"succeeded":true}')])
    c = client(srv.port, budget=0.2)
    c.start_clock()
    time.sleep(0.3)
    ok, _ = c.txn([], [])
    assert ok and c.round_trips == 1
    srv.close()


def test_after_an_outage_a_spent_budget_makes_no_more_attempts() -> None:
    c = client(free_port(), budget=0.3)
    c.start_clock()
    with pytest.raises(CNIError):
        c.txn([], [])
    n = c.round_trips
    with pytest.raises(CNIError) as e:
        c.txn([], [])
    assert c.round_trips == n and "not tried (budget spent)" in e.value.details
