"""macvlan against a real kernel (root): pycni's executable and the reference binary (Debian 1.1.1) on the same
config (cniVersion 1.0.0) in twin namespace pairs, then CHECK, disturbance, DEL, DEL again.

Creates per test: twin host/ext/container namespaces (see harness_links); all removed in finalizers.
Known 1.1.1-vs-HEAD differences asserted explicitly: ndisc_notify (HEAD sets 1), keep_addr_on_down (HEAD 1),
txqueuelen (1.1.1 sends IFLA_TXQLEN 0; HEAD leaves the kernel default, 1000).
"""

from __future__ import annotations

import pytest
from harness_common import ipj, with_prev
from harness_links import (
    addr_state,
    link_names,
    link_state,
    link_state_head,
    normalize,
    route_state,
    single,
    sysctl,
    twin,
)

pytestmark = pytest.mark.kernel

IPAM = {"type": "static",
        "addresses": [{"address": "192.0.2.100/24", "gateway": "192.0.2.1"}, {"address": "fd00:2::100/64"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "192.0.2.254"}],
        "dns": {"nameservers": ["192.0.2.53"]}}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "mvnet", "type": "macvlan", "master": "up0"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def state(side, ifname: str = "eth0") -> dict:
    return {"link": link_state_head(side.cont, ifname), "addrs": addr_state(side.cont, ifname),
            "routes": route_state(side.cont), "links": link_names(side.cont),
            "arp_notify": sysctl(side.cont, f"net/ipv4/conf/{ifname}/arp_notify")}


def test_l3_add_check_del_match_reference(netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "macvlan")
    cfg = conf(mtu=1400, ipam=IPAM, dns={"nameservers": ["9.9.9.9"]})
    args = "IgnoreUnknown=1;MAC=0a:58:c0:00:02:64"
    r_ours, r_ref = ours.add(cfg, args=args), ref.add(cfg, args=args)
    assert normalize(r_ours, ours) == normalize(r_ref, ref)
    assert r_ours == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": "0a:58:c0:00:02:64", "sandbox": ours.cont_path}],
        "ips": [{"interface": 0, "address": "192.0.2.100/24", "gateway": "192.0.2.1"},
                {"interface": 0, "address": "fd00:2::100/64"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "192.0.2.254"}],
        "dns": {"nameservers": ["9.9.9.9"]},
    }
    s_ours, s_ref = state(ours), state(ref)
    assert s_ours == s_ref
    assert s_ours["link"]["kind"] == "macvlan" and s_ours["link"]["data.mode"] == "bridge"
    assert s_ours["link"]["mtu"] == 1400 and "UP" in s_ours["link"]["flags"]
    assert ("-4", "default", "192.0.2.1", "eth0", None, None, None, "main") in s_ours["routes"]
    assert s_ours["arp_notify"] == "1"
    assert (link_state(ours.cont, "eth0")["txqlen"], link_state(ref.cont, "eth0")["txqlen"]) == (1000, None)
    # HEAD-only sysctls (the 1.1.1 reference leaves them at 0)
    assert sysctl(ours.cont, "net/ipv6/conf/eth0/ndisc_notify") == "1"
    assert sysctl(ref.cont, "net/ipv6/conf/eth0/ndisc_notify") == "0"
    assert sysctl(ours.cont, "net/ipv6/conf/eth0/keep_addr_on_down") == "1"
    assert link_names(ours.host) == link_names(ref.host) == ["lo", "up0"]

    for side, res in ((ours, r_ours), (ref, r_ref)):
        side.ok("CHECK", with_prev(cfg, res), args=args)
        side.ok("DEL", cfg, args=args)
        assert link_names(side.cont) == ["lo"]
        assert route_state(side.cont) == []
        side.ok("DEL", cfg, args=args)


def test_check_fails_after_disturbance(netns_factory, pycni_dir) -> None:
    ours = single(netns_factory, pycni_dir, "macvlan")
    cfg = conf(ipam=IPAM, dad="skip", mode="private")
    chk = with_prev(cfg, ours.add(cfg))
    ours.ok("CHECK", chk)
    assert ours.error("CHECK", dict(chk, mode="vepa")) == \
        "container macvlan mode private does not match expected value: vepa"
    ipj(ours.cont, "route", "del", "198.51.100.0/24")
    assert "198.51.100.0/24" in ours.error("CHECK", chk)
    ipj(ours.cont, "addr", "del", "192.0.2.100/24", "dev", "eth0")
    assert ours.error("CHECK", chk) == "Failed to match addr 192.0.2.100/24 on interface eth0"
    ours.ok("DEL", cfg)
    assert ours.error("CHECK", chk) == "container Interface name in prevResult: eth0 not found"


@pytest.mark.parametrize("mode", ["bridge", "private", "vepa", "passthru"])
def test_modes_match_reference(netns_factory, pycni_dir, mode: str) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "macvlan")
    cfg = conf(mode=mode, runtimeConfig={"mac": "0a:58:c0:00:02:65"})
    r_ours, r_ref = ours.add(cfg, "net1"), ref.add(cfg, "net1")
    assert normalize(r_ours, ours) == normalize(r_ref, ref)
    # passthru: the kernel gives the macvlan its lower device's address, whatever was asked
    mac = ipj(ours.host, "link", "show", "up0")[0]["address"] if mode == "passthru" else "0a:58:c0:00:02:65"
    assert r_ours == {"cniVersion": "1.0.0",
                      "interfaces": [{"name": "net1", "mac": mac, "sandbox": ours.cont_path}]}
    assert link_state_head(ours.cont, "net1") == link_state_head(ref.cont, "net1")
    assert (link_state(ours.cont, "net1")["txqlen"], link_state(ref.cont, "net1")["txqlen"]) == (1000, None)
    assert link_state(ours.cont, "net1")["data.mode"] == mode
    # L2: no sysctls touched, no addresses
    assert sysctl(ours.cont, "net/ipv4/conf/net1/arp_notify") == "0"
    assert addr_state(ours.cont, "net1") == []
    ours.ok("CHECK", with_prev(cfg, r_ours), "net1")
    ours.ok("DEL", cfg, "net1")
    assert link_names(ours.cont) == ["lo"]


def test_master_defaults_to_default_route_device(netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "macvlan")
    cfg = conf(master=None)
    assert normalize(ours.add(cfg), ours) == normalize(ref.add(cfg), ref)
    assert ipj(ours.cont, "link", "show", "eth0")[0]["link_index"] == ipj(ours.host, "link", "show", "up0")[0]["ifindex"]
    ipj(ours.host, "route", "del", "default")
    ipj(ref.host, "route", "del", "default")
    assert ours.error("ADD", cfg, "eth1") == ref.error("ADD", cfg, "eth1") == "no default route interface found"


@pytest.mark.parametrize("cfg,args", [
    ({"mtu": 1501}, ""),
    ({"master": "nope0"}, ""),
    ({"mode": "source"}, ""),
    ({"mac": "zz:zz"}, ""),
    ({"mtu": "1400"}, ""),
    ({}, "mac=0a:58:00:00:00:01"),
])
def test_errors_match_reference(netns_factory, pycni_dir, cfg: dict, args: str) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "macvlan")
    assert ours.error("ADD", conf(**cfg), args=args) == ref.error("ADD", conf(**cfg), args=args)
    assert link_names(ours.cont) == ["lo"]


def test_link_in_container_and_bcqueuelen(netns_factory, pycni_dir) -> None:
    """HEAD-only keys: the master lives in the container; the broadcast queue length is set."""
    ours = single(netns_factory, pycni_dir, "macvlan")
    ipj(ours.cont, "link", "add", "cm0", "type", "veth", "peer", "name", "cm1")
    cfg = conf(master="cm0", linkInContainer=True, bcqueuelen=2048, ipam=IPAM, dad="skip")
    res = ours.add(cfg)
    st = link_state(ours.cont, "eth0")
    assert (st["kind"], st["data.bcqueuelen"]) == ("macvlan", 2048)
    assert ipj(ours.cont, "link", "show", "eth0")[0]["link"] == "cm0"
    assert link_names(ours.host) == ["lo", "up0"]
    ours.ok("CHECK", with_prev(cfg, res))
    ours.ok("DEL", cfg)
    assert link_names(ours.cont) == ["cm0", "cm1", "lo"]


def test_del_after_netns_removed(netns_factory, pycni_dir) -> None:
    ours, ref = twin(netns_factory, pycni_dir, "macvlan")
    cfg = conf(ipam=IPAM, dad="skip")
    for side in (ours, ref):
        side.add(cfg)
        ipj(None, "netns", "del", side.cont)
        side.ok("DEL", cfg)
        side.ok("DEL", cfg, netns="")


def test_failed_add_leaves_nothing(netns_factory, pycni_dir) -> None:
    ours = single(netns_factory, pycni_dir, "macvlan")
    cfg = conf(ipam=dict(IPAM, routes=[{"dst": "203.0.113.0/24", "gw": "203.0.113.1"}]), dad="skip")
    msg = ours.error("ADD", cfg)
    assert msg.startswith("failed to add route '") and msg.endswith("network is unreachable")
    assert link_names(ours.cont) == ["lo"]
