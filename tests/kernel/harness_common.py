"""What every kernel-test harness shares (no tests here): commands run here or in a namespace, iproute2's JSON as
the oracle, plugin executables run inside a "host" netns, and the placeholders that make pycni's and the reference's
worlds comparable. Imported by conftest.py (netns_factory, pycni_dir) and the harness_* modules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

REF_DIR = "/usr/lib/cni"
CID = "cid1"
DEFAULT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# a "host" netns H and an external peer X on the veth up0 (in H) <-> ext0 (in X): link_host_to_peer()
H_V4, H_V6, X_V4, X_V6 = "192.0.2.2", "2001:db8:2::2", "192.0.2.1", "2001:db8:2::1"

MAC_RE = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
VETH_RE = re.compile(r"\bveth[0-9a-f]{8}\b")

NetnsFactory = Any  # conftest.NetnsFactory, reached through the netns_factory fixture


# ---------------------------------------------------------------------------------------------
# Commands


def ns_path(name: str) -> str:
    return f"/run/netns/{name}"


def sh(*args: str, check: bool = True, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command here; AssertionError with its stderr when it fails and `check`."""
    p = subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def nsx(ns: str | None, *args: str, check: bool = True, input: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command inside netns `ns` (`ip netns exec`), or here when ns is None."""
    return sh(*((["ip", "netns", "exec", ns] if ns else []) + list(args)), check=check, input=input, timeout=timeout)


def nsout(ns: str | None, *args: str, check: bool = True) -> str:
    """nsx's stdout."""
    return nsx(ns, *args, check=check).stdout


def ip(ns: str | None, *args: str, check: bool = True) -> str:
    """`ip [-n ns] args`; its stdout."""
    return sh("ip", *(["-n", ns] if ns else []), *args, check=check, timeout=60).stdout


def ip_status(ns: str | None, *args: str) -> int:
    """`ip [-n ns] args`; its exit code (never raises)."""
    return sh("ip", *(["-n", ns] if ns else []), *args, check=False, timeout=60).returncode


def ipj(ns: str | None, *args: str) -> list:
    """`ip [-n ns] -j args`, decoded."""
    out = ip(ns, "-j", *args).strip()
    return json.loads(out) if out else []


def read_proc(ns: str, path: str) -> str | None:
    """A /proc or /sys file as seen inside `ns` (stripped), None when it cannot be read."""
    p = nsx(ns, "cat", path, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def link_host_to_peer(h: str, x: str) -> None:
    """veth up0 in `h` <-> ext0 in `x`, both up, addressed H_V4/H_V6 and X_V4/X_V6 (/24, /64 without DAD)."""
    ip(h, "link", "add", "up0", "type", "veth", "peer", "name", "ext0", "netns", x)
    for ns, dev, v4, v6 in ((h, "up0", H_V4, H_V6), (x, "ext0", X_V4, X_V6)):
        ip(ns, "addr", "add", f"{v4}/24", "dev", dev)
        ip(ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
        ip(ns, "link", "set", dev, "up")


def iptables_save(ns: str, table: str, v6: bool = False) -> str:
    """`ip[6]tables-save -t table` inside `ns` without comments and packet counters."""
    out = nsout(ns, "ip6tables-save" if v6 else "iptables-save", "-t", table)
    return "\n".join(re.sub(r"\[\d+:\d+\]", "", line) for line in out.splitlines() if not line.startswith("#"))


def start_server(ns: str, script: str, *args: str) -> subprocess.Popen:
    """`python -c script args` inside `ns`, returned once it printed "ready" (its stdin is kept open)."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", script, *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


def stop_servers(servers: list[subprocess.Popen]) -> None:
    for p in servers:
        p.kill()
        p.wait(timeout=10)
    servers.clear()


def need_tools(*progs: str) -> None:
    for p in progs:
        if shutil.which(p) is None:
            pytest.skip(f"`{p}` is not installed")


def need_reference(plugin: str) -> str:
    """The reference binary's path; skips the test when it is not installed."""
    path = f"{REF_DIR}/{plugin}"
    if not os.access(path, os.X_OK):
        pytest.skip(f"reference plugin {path} is not installed (Debian containernetworking-plugins)")
    return path


# ---------------------------------------------------------------------------------------------
# Plugin executables


class Outcome:
    """What a plugin executable answered: exit code, stdout (decoded when JSON), stderr."""

    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.json = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            self.json = None

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def msg(self) -> str:
        return self.json.get("msg", "") if isinstance(self.json, dict) else ""

    def __repr__(self) -> str:
        return f"Outcome(rc={self.rc}, stdout={self.stdout!r}, stderr={self.stderr[-800:]!r})"


def exec_plugin(host: str, exe: str, cmd: str, conf: dict | str, *, netns: str, cni_path: str, ifname: str = "eth0",
                cid: str = CID, cni_args: str = "", extra_env: dict[str, str] | None = None,
                timeout: float = 120) -> Outcome:
    """Run plugin executable `exe` inside netns `host` with only the CNI variables and PATH set."""
    env = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid,
           "CNI_IFNAME": ifname, "CNI_PATH": cni_path, "CNI_NETNS": netns}
    if cni_args:
        env["CNI_ARGS"] = cni_args
    env.update(extra_env or {})
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    argv = ["ip", "netns", "exec", host, "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + [exe]
    return Outcome(subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout))


def run_plugin(exe: str, cmd: str, conf: dict, host: str, netns: str, cni_path: str, cid: str = CID, *,
               ifname: str = "eth0", cni_args: str = "", extra_env: dict[str, str] | None = None,
               timeout: float = 120) -> tuple[int, dict | None, str]:
    """exec_plugin answering (exit code, stdout decoded (it must be JSON when not empty) or None, stderr)."""
    out = exec_plugin(host, exe, cmd, conf, netns=netns, cni_path=cni_path, ifname=ifname, cid=cid,
                      cni_args=cni_args, extra_env=extra_env, timeout=timeout)
    return out.rc, (json.loads(out.stdout) if out.stdout.strip() else None), out.stderr


class World:
    """One "host" netns in which plugin executables (from `bindir`) run, plus container namespaces on demand."""

    def __init__(self, factory: NetnsFactory, tag: str, bindir: str) -> None:
        self.factory = factory
        self.tag = tag
        self.bindir = bindir
        self.host: str = factory.new(f"{tag}h")
        self.containers: dict[str, str] = {}

    def container(self, key: str = "c") -> str:
        if key not in self.containers:
            self.containers[key] = self.factory.new(f"{self.tag}{key}")
        return self.containers[key]

    def path(self, key: str = "c") -> str:
        return ns_path(self.container(key))

    def placeholders(self) -> dict[str, str]:
        """{namespace name: its placeholder} for normalize()."""
        return {ns: f"NS-{key}" for key, ns in self.containers.items()}

    def run_plugin(self, plugin: str, cmd: str, conf: dict | str, *, cont: str = "c", ifname: str = "eth0",
                   cid: str = CID, cni_args: str = "", netns: str | None = None, host: str | None = None,
                   bindir: str | None = None, timeout: float = 120) -> Outcome:
        bindir = bindir or self.bindir
        return exec_plugin(host or self.host, os.path.join(bindir, plugin), cmd, conf,
                           netns=self.path(cont) if netns is None else netns, cni_path=bindir, ifname=ifname, cid=cid,
                           cni_args=cni_args, timeout=timeout)


def with_prev(conf: dict, result: dict) -> dict:
    """A copy of conf with `prevResult` set."""
    return dict(conf, prevResult=result)


# ---------------------------------------------------------------------------------------------
# Comparing two worlds


def normalize(obj: object, *worlds: World) -> object:
    """Random MACs, veth names and namespace names replaced by placeholders (JSON round trip)."""
    text = json.dumps(obj, sort_keys=True)
    text = MAC_RE.sub("MAC", text)
    text = VETH_RE.sub("VETH", text)
    for w in worlds:
        for ns, placeholder in w.placeholders().items():
            text = text.replace(ns, placeholder)
        text = text.replace(w.host, "NS-host")
    return json.loads(text)


def norm_result(res: dict | None, world: World) -> dict | None:
    if res is None:
        return None
    res = dict(res)
    if res.get("dns") == {}:
        del res["dns"]  # Debian 1.1.1 always prints "dns": {}; HEAD (and pycni) omit an empty one
    return normalize(res, world)  # type: ignore[return-value]


def diff(a: object, b: object, path: str = "") -> list[str]:
    """Human-readable differences between two normalized snapshots (for assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: pycni={a!r} reference={b!r}"]


def assert_same(a: object, b: object, what: str) -> None:
    d = diff(a, b)
    assert not d, f"{what} differs:\n" + "\n".join(d)
