"""ipvlan against a real kernel (root), compared with the reference binary (Debian 1.1.1) in twin namespaces.

This machine's kernel is built without CONFIG_IPVLAN: every test here probes `ip link add type ipvlan` first and
skips with the kernel's answer. The plugin's logic, including the exact RTM_NEWLINK it sends, is covered by
tests/unit/test_ipvlan_unit.py. Creates per test: twin host/ext/container namespaces; removed in finalizers.
"""

from __future__ import annotations

import pytest
from harness_links import add_check_del_both, fails_like_reference_without_kind, need_kind, twin

pytestmark = pytest.mark.kernel

IPAM = {"type": "static", "addresses": [{"address": "192.0.2.110/24", "gateway": "192.0.2.1"}],
        "routes": [{"dst": "198.51.100.0/24", "gw": "192.0.2.254"}]}


@pytest.fixture
def ipvlan_ok(netns_factory) -> None:
    need_kind(netns_factory, "ipvlan", "mode", "l2")


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "ipvnet", "type": "ipvlan", "master": "up0", "ipam": IPAM}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("mode", ["l2", "l3", "l3s"])
def test_add_check_del_match_reference(ipvlan_ok, netns_factory, pycni_dir, mode: str) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "ipvlan")
    st = add_check_del_both(ours, ref, conf(mode=mode))
    assert st["kind"] == "ipvlan" and st["data.mode"] == mode


def test_check_mode_mismatch(ipvlan_ok, netns_factory, pycni_dir) -> None:
    ours, _ref = twin(netns_factory, pycni_dir, "ipvlan")
    res = ours.add(conf(mode="l3"))
    assert ours.error("CHECK", conf(mode="l2", prevResult=res)) == \
        "Container IPVlan mode l3 does not match expected value: l2"


def test_unsupported_kernel_error_matches_reference(netns_factory, pycni_dir) -> None:
    """Where the kernel lacks ipvlan (as here), both fail alike and leave nothing behind."""
    fails_like_reference_without_kind(netns_factory, pycni_dir, "ipvlan", conf(), "mode", "l2")
