"""host-device against a real kernel (root): a veth end `hd0` in the host netns stands in for a NIC. pycni's
executable and the reference binary (Debian 1.1.1) run the same config (cniVersion 1.0.0) in twin namespaces.

Creates per test: twin host/ext/container namespaces plus the `hd0` veth (peer in ext); all removed in finalizers.
PCI, auxiliary and DPDK selectors need real devices: they are unit-tested (test_host_device_unit).
Known 1.1.1-vs-HEAD difference asserted explicitly: DEL clears the alias (HEAD) where 1.1.1 leaves it set.
"""

from __future__ import annotations

import pytest
from harness_common import ip, ipj
from harness_links import addr_state, link_names, link_state, normalize, route_state, single, twin

pytestmark = pytest.mark.kernel

IPAM = {"type": "static", "addresses": [{"address": "10.77.0.2/24", "gateway": "10.77.0.1"}],
        "routes": [{"dst": "10.78.0.0/16", "gw": "10.77.0.254"}]}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "hdnet", "type": "host-device"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def add_device(side, mac: str | None = None) -> None:
    ip(side.host, "link", "add", "hd0", "type", "veth", "peer", "name", "hdx", "netns", side.ext)
    ip(side.host, "link", "set", "hd0", "mtu", "1480", "up")
    if mac:
        ip(side.host, "link", "set", "hd0", "address", mac)


def test_device_add_check_del_match_reference(netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "host-device")
    cfg = conf(device="hd0", ipam=IPAM)
    for side in (ours, ref):
        add_device(side)
    r_ours, r_ref = ours.add(cfg, "net1"), ref.add(cfg, "net1")
    assert normalize(r_ours, ours) == normalize(r_ref, ref)
    assert r_ours["interfaces"] == [{"name": "net1", "mac": ipj(ours.cont, "link", "show", "net1")[0]["address"],
                                     "sandbox": ours.cont_path}]
    assert r_ours["ips"] == [{"interface": 0, "address": "10.77.0.2/24", "gateway": "10.77.0.1"}]
    st = link_state(ours.cont, "net1")
    assert st == link_state(ref.cont, "net1")
    assert (st["ifalias"], st["mtu"], "UP" in st["flags"]) == ("hd0", 1480, True)
    assert addr_state(ours.cont, "net1") == addr_state(ref.cont, "net1")
    assert route_state(ours.cont) == route_state(ref.cont)
    assert link_names(ours.host) == link_names(ref.host) == ["lo", "up0"]

    for side, res in ((ours, r_ours), (ref, r_ref)):
        side.ok("CHECK", dict(cfg, prevResult=res), "net1")
        side.ok("DEL", cfg, "net1")
        assert link_names(side.cont) == ["lo"]
        back = link_state(side.host, "hd0")
        assert back["mtu"] == 1480 and "UP" not in back["flags"]  # back home, left down
    assert link_state(ours.host, "hd0")["ifalias"] is None  # HEAD clears the alias
    assert link_state(ref.host, "hd0")["ifalias"] == "hd0"  # 1.1.1 leaves it
    ours.ok("DEL", cfg, "net1")  # twice: nothing to move back


def test_check_fails_after_disturbance(netns_factory, pycni_dir) -> None:
    ours = single(netns_factory, pycni_dir, "host-device")
    add_device(ours)
    cfg = conf(device="hd0", ipam=IPAM, dad="skip")
    chk = dict(cfg, prevResult=ours.add(cfg, "net1"))
    ours.ok("CHECK", chk, "net1")
    ip(ours.cont, "link", "set", "net1", "address", "0a:00:00:00:00:77")
    assert ours.error("CHECK", chk, "net1").endswith("doesn't match container Mac: 0a:00:00:00:00:77")
    chk["prevResult"]["interfaces"][0]["mac"] = "0a:00:00:00:00:77"
    ours.ok("CHECK", chk, "net1")
    ip(ours.cont, "route", "del", "10.78.0.0/16")
    assert "10.78.0.0/16" in ours.error("CHECK", chk, "net1")
    ours.ok("DEL", cfg, "net1")
    assert link_names(ours.cont) == ["lo"] and "hd0" in link_names(ours.host)


def test_hwaddr_selector_l2_matches_reference(netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "host-device")
    for side in (ours, ref):
        add_device(side, mac="0a:58:0a:4d:00:02")
    cfg = conf(hwaddr="0A:58:0A:4D:00:02")
    r_ours, r_ref = ours.add(cfg, "net1"), ref.add(cfg, "net1")
    assert normalize(r_ours, ours) == normalize(r_ref, ref)
    assert r_ours == {"cniVersion": "1.0.0",
                      "interfaces": [{"name": "net1", "mac": "0a:58:0a:4d:00:02", "sandbox": ours.cont_path}]}
    assert link_state(ours.cont, "net1") == link_state(ref.cont, "net1")
    ours.ok("DEL", cfg, "net1")
    assert link_state(ours.host, "hd0")["mtu"] == 1480


def test_kernelpath_selector(netns_factory, pycni_dir) -> None:
    """Inside `ip netns exec H` sysfs shows H's devices: /sys/devices/virtual/net holds hd0, lo, up0 (hd0 first)."""
    ours, ref = twin(netns_factory, pycni_dir, "host-device")
    for side in (ours, ref):
        add_device(side)
    cfg = conf(kernelpath="/sys/devices/virtual")
    assert normalize(ours.add(cfg, "net1"), ours) == normalize(ref.add(cfg, "net1"), ref)
    assert link_state(ours.cont, "net1")["ifalias"] == "hd0"
    ours.ok("DEL", cfg, "net1")
    assert "hd0" in link_names(ours.host)


@pytest.mark.parametrize("cfg", [
    {},
    {"device": "nope0"},
    {"kernelpath": "/sys/class/net/hd0"},
    {"hwaddr": "0a:00:00:00:00:99"},
])
def test_errors_match_reference(netns_factory, pycni_dir, cfg: dict) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "host-device")
    assert ours.error("ADD", conf(**cfg), "net1") == ref.error("ADD", conf(**cfg), "net1")


def test_unknown_device_id(netns_factory, pycni_dir) -> None:
    """HEAD looks runtimeConfig.deviceID up under /sys/bus/pci and /sys/bus/auxiliary (1.1.1 only knew PCI)."""
    ours = single(netns_factory, pycni_dir, "host-device")
    assert ours.error("ADD", conf(runtimeConfig={"deviceID": "0000:ff:1f.7"}), "net1") == \
        "runtime config DeviceID 0000:ff:1f.7 not found or unsupported"


def test_name_clash_in_container_restores_device(netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "host-device")
    for side in (ours, ref):
        add_device(side)
        ip(side.cont, "link", "add", "net1", "type", "veth", "peer", "name", "net1p")
    cfg = conf(device="hd0")
    # HEAD renames inside a temporary netns, so the clash shows up when entering the container
    assert ours.error("ADD", cfg, "net1") == \
        'failed to move link failed to move "net1" (host: "hd0") to container NS: file exists'
    assert ref.error("ADD", cfg, "net1") == 'failed to move link failed to rename device "hd0" to "net1": file exists'
    st = link_state(ours.host, "hd0")  # (1.1.1 leaves the device renamed on the host)
    assert "UP" in st["flags"] and st["ifalias"] is None and st["mtu"] == 1480
    assert link_names(ours.cont) == ["lo", "net1", "net1p"]


def test_del_after_netns_removed(netns_factory, pycni_dir) -> None:
    """pycni succeeds (the device went with the namespace); upstream errors `failed to open netns ...`."""
    ours, ref = twin(netns_factory, pycni_dir, "host-device")
    cfg = conf(device="hd0", ipam=IPAM, dad="skip")
    for side in (ours, ref):
        add_device(side)
        side.add(cfg, "net1")
        ip(None, "netns", "del", side.cont)
    ours.ok("DEL", cfg, "net1")
    assert ref.error("DEL", cfg, "net1").startswith(f'failed to open netns "{ref.cont_path}"')


def test_failed_configure_moves_device_back(netns_factory, pycni_dir) -> None:
    ours = single(netns_factory, pycni_dir, "host-device")
    add_device(ours)
    cfg = conf(device="hd0", dad="skip", ipam=dict(IPAM, routes=[{"dst": "203.0.113.0/24", "gw": "203.0.113.1"}]))
    assert ours.error("ADD", cfg, "net1").endswith("network is unreachable")
    assert link_names(ours.cont) == ["lo"]
    st = link_state(ours.host, "hd0")
    assert st["ifalias"] is None and st["mtu"] == 1480
