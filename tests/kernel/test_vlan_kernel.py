"""vlan (802.1Q) against a real kernel (root), compared with the reference binary (Debian 1.1.1) in twin namespaces.

This machine's kernel is built without CONFIG_VLAN_8021Q: every test here probes `ip link add type vlan` first and
skips with the kernel's answer. The plugin's logic, including the exact RTM_NEWLINK it sends, is covered by
tests/unit/test_vlan_unit.py. Creates per test: twin host/ext/container namespaces; removed in finalizers.
"""

from __future__ import annotations

import pytest
from test_macvlan_harness import (
    addr_state,
    kind_supported,
    link_names,
    link_state,
    normalize,
    pycni_dir,  # noqa: F401 - fixture
    route_state,
    twin,
)

pytestmark = pytest.mark.kernel

IPAM = {"type": "static", "addresses": [{"address": "10.100.0.2/24", "gateway": "10.100.0.1"}]}


@pytest.fixture
def vlan_ok(netns_factory) -> None:
    reason = kind_supported(netns_factory, "vlan", "id", "10")
    if reason:
        pytest.skip(reason)


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "vlnet", "type": "vlan", "master": "up0", "vlanId": 100,
                  "ipam": IPAM}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_add_check_del_match_reference(vlan_ok, netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "vlan")
    cfg = conf(mtu=1400)
    r_ours, r_ref = ours.add(cfg), ref.add(cfg)
    assert normalize(r_ours, ours) == normalize(r_ref, ref)
    st = link_state(ours.cont, "eth0")
    del st["txqlen"]
    st_ref = link_state(ref.cont, "eth0")
    del st_ref["txqlen"]
    assert st == st_ref and (st["kind"], st["data.id"], st["mtu"]) == ("vlan", 100, 1400)
    assert addr_state(ours.cont, "eth0") == addr_state(ref.cont, "eth0")
    assert route_state(ours.cont) == route_state(ref.cont)
    for side, res in ((ours, r_ours), (ref, r_ref)):
        side.ok("CHECK", dict(cfg, prevResult=res))
        side.ok("DEL", cfg)
        assert link_names(side.cont) == ["lo"]
        side.ok("DEL", cfg)


def test_check_vlan_id_mismatch(vlan_ok, netns_factory, pycni_dir) -> None:
    ours, _ref = twin(netns_factory, pycni_dir, "vlan")
    res = ours.add(conf())
    assert ours.error("CHECK", conf(vlanId=7, prevResult=res)) == "Error: container vlan eth0 has VLAN ID 100, expected 7"


def test_unsupported_kernel_error_matches_reference(netns_factory, pycni_dir) -> None:
    """Where the kernel lacks 802.1Q (as here), both fail alike and leave nothing behind."""
    if kind_supported(netns_factory, "vlan", "id", "10") is None:
        pytest.skip("this kernel supports 802.1Q vlans")
    ours, ref = twin(netns_factory, pycni_dir, "vlan")
    assert ours.error("ADD", conf()) == ref.error("ADD", conf()) == "failed to create vlan: operation not supported"
    assert link_names(ours.cont) == ["lo"] and link_names(ours.host) == ["lo", "up0"]
