"""Fixtures for kernel tests: throwaway network namespaces (pycni-t-<random>) that are always deleted.

Every test in this directory needs root and iproute2; without them the tests are skipped with the reason.
All links, addresses and routes live inside namespaces created here; the host's own are never touched.
The oracle is iproute2's JSON output, never pycni's own decoder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from harness_common import ip, ipj, ns_path, nsx, sh

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
        return nsx(ns, *args, check=check, input=input, timeout=timeout)

    @staticmethod
    def ip(ns: str | None, *args: str, check: bool = True) -> str:
        return ip(ns, *args, check=check)

    @staticmethod
    def ipj(ns: str | None, *args: str) -> list[dict]:
        return ipj(ns, *args)

    def routes(self, ns: str, family: str, *extra: str) -> list[dict]:
        """`ip -j -4|-6 -n ns route show table all [extra]` without local/broadcast/multicast routes."""
        out = self.ipj(ns, family, "route", "show", "table", "all", *extra)
        return [r for r in out if r.get("type", "unicast") == "unicast"]

    def addrs(self, ns: str, dev: str, family: str | None = None) -> list[dict]:
        info = self.ipj(ns, "addr", "show", "dev", dev)[0]["addr_info"]
        return [a for a in info if family is None or a["family"] == family]


@pytest.fixture(scope="session")
def iproute2() -> IpRoute2:
    return IpRoute2()


@pytest.fixture(scope="session")
def pycni_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory with every pycni plugin executable (`pycni install-plugins`), made once per session."""
    from pycni.cli.install import install

    d = str(tmp_path_factory.mktemp("pycni-plugins"))
    install(d)
    return d


class NetnsFactory:
    """Creates uniquely named namespaces and deletes all of them at teardown."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self, tag: str = "") -> str:
        name = PREFIX + os.urandom(4).hex() + (f"-{tag}" if tag else "")
        ip(None, "netns", "add", name)
        self.names.append(name)
        ip(name, "link", "set", "lo", "up")
        return name

    def cleanup(self) -> None:
        for name in reversed(self.names):
            sh("ip", "netns", "del", name, check=False)
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
    ip(cont, "link", "add", "eth0", "type", "veth", "peer", "name", "host0", "netns", host)
    ip(host, "link", "set", "host0", "up")
    return VethPair(cont, host)
