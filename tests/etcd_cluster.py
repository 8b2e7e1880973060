"""A throw-away 3-member etcd cluster on 127.0.0.1 for the cluster-ipam tests and benchmark.

Members run from /usr/bin/etcd (Debian etcd-server 3.4) in a temp dir on free loopback ports and
are always stopped (SIGKILL, then wait) by `stop()` / the context manager, even on failure.
Also a tiny stdlib client for tests (`kv`, `prefix_keys`): never the plugin's own client.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def available() -> bool:
    return os.access(ETCD, os.X_OK)


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Cluster:
    """Three etcd members; `tls` = (ca, server cert, server key) turns on client TLS + cert auth
    (`client_cert` = (cert, key) for the test side's own calls)."""

    def __init__(self, size: int = 3, tls: tuple[str, str, str] | None = None, base: str | None = None,
                 client_cert: tuple[str, str] | None = None) -> None:
        self.size = size
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix="pycni-etcd-", dir=base)
        ports = free_ports(2 * size)
        self.client_ports = ports[:size]
        self.peer_ports = ports[size:]
        self.procs: dict[int, subprocess.Popen[bytes] | None] = {}
        scheme = "https" if tls else "http"
        self.endpoints = [f"{scheme}://127.0.0.1:{p}" for p in self.client_ports]
        self.ctx: Any = None
        if tls:
            import ssl

            self.ctx = ssl.create_default_context(cafile=tls[0])
            if client_cert:
                self.ctx.load_cert_chain(*client_cert)

    def _cmd(self, i: int) -> list[str]:
        cluster = ",".join(f"m{j}=http://127.0.0.1:{p}" for j, p in enumerate(self.peer_ports))
        cmd = [ETCD, "--name", f"m{i}", "--data-dir", os.path.join(self.dir, f"m{i}.etcd"),
               "--listen-client-urls", self.endpoints[i], "--advertise-client-urls", self.endpoints[i],
               "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
               "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
               "--initial-cluster", cluster, "--initial-cluster-state", "new",
               "--initial-cluster-token", "pycni-test", "--logger", "zap", "--log-outputs", "stderr"]
        if self.tls:
            ca, cert, key = self.tls
            cmd += ["--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth"]
        return cmd

    def start_member(self, i: int) -> None:
        log = open(os.path.join(self.dir, f"m{i}.log"), "ab")  # noqa: SIM115 - owned by the member
        self.procs[i] = subprocess.Popen(self._cmd(i), stdout=log, stderr=log, start_new_session=True)
        log.close()

    def kill_member(self, i: int) -> None:
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        self.procs[i] = None

    def start(self, timeout: float = 20.0) -> Cluster:
        try:
            for i in range(self.size):
                self.start_member(i)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.call("/v3/kv/put", {"key": _b64("/_ready"), "value": _b64("1")}, timeout=2)
                return
            except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
                last = exc
                time.sleep(0.1)
        raise RuntimeError(f"etcd cluster not ready: {last}")

    def leader(self) -> int:
        """Index of the current leader member."""
        for i, ep in enumerate(self.endpoints):
            if self.procs.get(i) is None:
                continue
            try:
                st = self.call("/v3/maintenance/status", {}, ep=ep, timeout=2)
            except Exception:  # noqa: BLE001, S112 - a dead member
                continue
            if st.get("leader") and st["leader"] == st["header"]["member_id"]:
                return i
        raise RuntimeError("no leader")

    def stop(self) -> None:
        for i in list(self.procs):
            self.kill_member(i)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Cluster:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- a small test-side client ------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any], ep: str | None = None, timeout: float = 5,
             headers: dict[str, str] | None = None) -> Any:
        eps = [ep] if ep else [e for i, e in enumerate(self.endpoints) if self.procs.get(i) is not None]
        last: Exception | None = None
        for e in eps:
            req = urllib.request.Request(e + path, data=json.dumps(body).encode(), method="POST",
                                         headers=headers or {})
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:
                    return json.loads(r.read())
            except (OSError, urllib.error.URLError) as exc:
                last = exc
        raise RuntimeError(f"etcd call {path} failed: {last}")

    def prefix_kvs(self, prefix: str, serializable: bool = False, **kw: Any) -> dict[str, str]:
        """Every key under `prefix` with its value, decoded (serializable: a member's local view,
        readable without quorum)."""
        body: dict[str, Any] = {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))}
        if serializable:
            body["serializable"] = True
        out = self.call("/v3/kv/range", body, **kw)
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
                for kv in out.get("kvs", [])}


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def prefix_end(prefix: str) -> str:
    b = prefix.encode()
    return (b[:-1] + bytes([b[-1] + 1])).decode()


def make_certs(d: str) -> tuple[str, str, str, str, str] | None:
    """A CA, a server cert for 127.0.0.1 and a client cert without CN (etcd's gateway rejects a CN
    under auth). Returns (ca, server cert, server key, client cert, client key), or None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None

    def run(*a: str) -> None:
        subprocess.run([openssl, *a], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pycni-test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    for name, subj in (("server", "/CN=127.0.0.1"), ("client", "/O=pycni")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt")
    j = os.path.join
    return j(d, "ca.crt"), j(d, "server.crt"), j(d, "server.key"), j(d, "client.crt"), j(d, "client.key")
