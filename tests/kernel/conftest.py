"""Fixtures for kernel tests: throwaway network namespaces (pycni-t-<random>) that are always deleted.

Every test in this directory needs root and iproute2; without them the tests are skipped with the reason.
All links, addresses and routes live inside namespaces created here; the host's own are never touched.
The oracle is iproute2's JSON output, never pycni's own decoder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PREFIX = "pycni-t-"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "kernel tests need root (network namespaces and netlink changes)"
    if shutil.which("ip") is None:
        return "iproute2 `ip` is not installed"
    if not os.path.isdir("/proc/self/ns"):
        return "no /proc/self/ns: namespaces unavailable"
    return None


SKIP_REASON = _skip_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SKIP_REASON is None:
        return
    mark = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(mark)


class IpRoute2:
    """iproute2 and friends as the test oracle (reach it through the `iproute2` fixture)."""

    @staticmethod
    def run(*args: str, ns: str | None = None, check: bool = True, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command, inside netns `ns` (via `ip netns exec`) when given."""
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    @staticmethod
    def ip(ns: str | None, *args: str, check: bool = True) -> str:
        return _ip(ns, *args, check=check)

    @staticmethod
    def ipj(ns: str | None, *args: str) -> list[dict]:
        out = _ip(ns, "-j", *args).strip()
        return json.loads(out) if out else []

    def routes(self, ns: str, family: str, *extra: str) -> list[dict]:
        """`ip -j -4|-6 -n ns route show table all [extra]` without local/broadcast/multicast routes."""
        out = self.ipj(ns, family, "route", "show", "table", "all", *extra)
        return [r for r in out if r.get("type", "unicast") == "unicast"]

    def addrs(self, ns: str, dev: str, family: str | None = None) -> list[dict]:
        info = self.ipj(ns, "addr", "show", "dev", dev)[0]["addr_info"]
        return [a for a in info if family is None or a["family"] == family]


def _ip(ns: str | None, *args: str, check: bool = True) -> str:
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


@pytest.fixture(scope="session")
def iproute2() -> IpRoute2:
    return IpRoute2()


def ns_path(name: str) -> str:
    return f"/run/netns/{name}"


class NetnsFactory:
    """Creates uniquely named namespaces and deletes all of them at teardown."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self, tag: str = "") -> str:
        name = PREFIX + os.urandom(4).hex() + (f"-{tag}" if tag else "")
        _ip(None, "netns", "add", name)
        self.names.append(name)
        _ip(name, "link", "set", "lo", "up")
        return name

    def cleanup(self) -> None:
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.names.clear()


@pytest.fixture
def netns_factory():
    f = NetnsFactory()
    try:
        yield f
    finally:
        f.cleanup()


class VethPair:
    """A container namespace with veth `eth0` whose peer `host0` is up in a separate "host" namespace."""

    def __init__(self, cont: str, host: str) -> None:
        self.cont = cont
        self.host = host
        self.cont_path = ns_path(cont)
        self.host_path = ns_path(host)


@pytest.fixture
def veth(netns_factory: NetnsFactory) -> VethPair:
    host = netns_factory.new("h")
    cont = netns_factory.new("c")
    _ip(cont, "link", "add", "eth0", "type", "veth", "peer", "name", "host0", "netns", host)
    _ip(host, "link", "set", "host0", "up")
    return VethPair(cont, host)
