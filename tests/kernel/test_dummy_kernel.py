"""dummy against a real kernel (root). No reference binary exists (dummy is newer than Debian's 1.1.1).

This machine's kernel is built without CONFIG_DUMMY: every test here probes `ip link add type dummy` first and
skips with the kernel's answer. The plugin's logic, including the exact RTM_NEWLINK it sends, is covered by
tests/unit/test_dummy_unit.py. Creates per test: a host/ext/container namespace set; removed in finalizers.
"""

from __future__ import annotations

import pytest
from harness_common import ip
from harness_links import addr_state, kind_supported, link_names, link_state, need_kind, single

pytestmark = pytest.mark.kernel

IPAM = {"type": "static", "addresses": [{"address": "10.99.0.2/24"}, {"address": "fd00:99::2/64"}]}


@pytest.fixture
def dummy_ok(netns_factory) -> None:
    need_kind(netns_factory, "dummy")


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.1.0", "name": "dnet", "type": "dummy", "ipam": IPAM, "dad": "skip"}
    base.update(kw)
    return base


def test_add_check_down_del(dummy_ok, netns_factory, pycni_dir) -> None:
    side = single(netns_factory, pycni_dir, "dummy")
    res = side.add(conf(), "dm0")
    assert res["interfaces"] == [{"name": "dm0", "mac": res["interfaces"][0]["mac"], "sandbox": side.cont_path}]
    st = link_state(side.cont, "dm0")
    assert st["kind"] == "dummy" and "UP" in st["flags"]
    assert [a[:3] for a in addr_state(side.cont, "dm0")] == [("inet", "10.99.0.2", 24), ("inet6", "fd00:99::2", 64)]
    chk = conf(prevResult=res)
    side.ok("CHECK", chk, "dm0")
    ip(side.cont, "link", "set", "dm0", "down")
    assert side.error("CHECK", chk, "dm0") == "Interface dm0 is down"
    side.ok("DEL", conf(), "dm0")
    assert link_names(side.cont) == ["lo"]
    side.ok("DEL", conf(), "dm0")
    ip(None, "netns", "del", side.cont)
    side.ok("DEL", conf(), "dm0")


def test_unsupported_kernel_error(netns_factory, pycni_dir) -> None:
    """Where the kernel lacks dummy links (as here): a clean error, no IPAM call, nothing left behind."""
    if kind_supported(netns_factory, "dummy") is None:
        pytest.skip("this kernel supports dummy links")
    side = single(netns_factory, pycni_dir, "dummy")
    assert side.error("ADD", conf(), "dm0") == "failed to create dummy: operation not supported"
    assert link_names(side.cont) == ["lo"]
