"""Fixtures shared by the unit tests: the in-memory rtnetlink kernel (fakekernel.py), the in-memory iptables/nft
(fakenetfilter.py) and a guard that refuses real netfilter commands, each installed with monkeypatch for one test.
No root, no real kernel state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fakekernel import FakeKernel
from fakenetfilter import FakeNetfilter


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKernel]:
    """NetlinkSocket, netns switching, sysctls, tuntap and IPAM delegation served by a FakeKernel."""
    k = FakeKernel().install(monkeypatch)
    yield k
    for fd in list(k.fds):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNetfilter:
    """pycni.linux.netfilter's iptables/nft runs and PATH lookups served by a FakeNetfilter."""
    from pycni.linux import netfilter as nf

    f = FakeNetfilter()
    monkeypatch.setattr(nf.spawn, "run", f.run)
    monkeypatch.setattr(nf.spawn, "lookpath", f.which)
    monkeypatch.setattr(nf, "nft_table_exists", lambda family, table: None)  # unknown: nft is asked
    return f


@pytest.fixture
def no_real_netfilter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests run as root in CI: never let a real iptables/nft/conntrack call through (a module opts in with
    `pytestmark = pytest.mark.usefixtures("no_real_netfilter")`)."""
    from pycni.linux import netfilter

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError(f"a unit test tried to run {a[:1]!r} for real")

    monkeypatch.setattr(netfilter.spawn, "run", refuse)
    monkeypatch.setattr(netfilter, "nft_table_exists", lambda family, table: None)
    monkeypatch.setattr(netfilter, "delete_conntrack_dst_port", refuse)
    monkeypatch.setattr(netfilter, "routable_host_ifname", lambda ip: "")
