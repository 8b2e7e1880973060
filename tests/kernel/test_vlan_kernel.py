"""vlan (802.1Q) against a real kernel (root), compared with the reference binary (Debian 1.1.1) in twin namespaces.

This machine's kernel is built without CONFIG_VLAN_8021Q: every test here probes `ip link add type vlan` first and
skips with the kernel's answer. The plugin's logic, including the exact RTM_NEWLINK it sends, is covered by
tests/unit/test_vlan_unit.py. Creates per test: twin host/ext/container namespaces; removed in finalizers.
"""

from __future__ import annotations

import pytest
from harness_links import add_check_del_both, fails_like_reference_without_kind, need_kind, twin

pytestmark = pytest.mark.kernel

IPAM = {"type": "static", "addresses": [{"address": "10.100.0.2/24", "gateway": "10.100.0.1"}]}


@pytest.fixture
def vlan_ok(netns_factory) -> None:
    need_kind(netns_factory, "vlan", "id", "10")


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "vlnet", "type": "vlan", "master": "up0", "vlanId": 100,
                  "ipam": IPAM}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_add_check_del_match_reference(vlan_ok, netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "vlan")
    st = add_check_del_both(ours, ref, conf(mtu=1400))
    assert (st["kind"], st["data.id"], st["mtu"]) == ("vlan", 100, 1400)


def test_check_vlan_id_mismatch(vlan_ok, netns_factory, pycni_dir) -> None:
    ours, _ref = twin(netns_factory, pycni_dir, "vlan")
    res = ours.add(conf())
    assert ours.error("CHECK", conf(vlanId=7, prevResult=res)) == "Error: container vlan eth0 has VLAN ID 100, expected 7"


def test_unsupported_kernel_error_matches_reference(netns_factory, pycni_dir) -> None:
    """Where the kernel lacks 802.1Q (as here), both fail alike and leave nothing behind."""
    fails_like_reference_without_kind(netns_factory, pycni_dir, "vlan", conf(), "id", "10")
