"""tap against a real kernel (root, /dev/net/tun). There is no reference binary (tap is newer than Debian's 1.1.1),
so the expected kernel state is upstream HEAD's, read back with `ip -d -j link`.

Creates per test: a host/ext/container namespace set (see harness_links); removed in finalizers.
"""

from __future__ import annotations

import os

import pytest
from harness_common import ip, ipj
from harness_links import addr_state, link_names, link_state, route_state, single, sysctl

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(not os.path.exists("/dev/net/tun"), reason="no /dev/net/tun on this machine")]

IPAM = {"type": "static", "addresses": [{"address": "10.88.0.2/24", "gateway": "10.88.0.1"},
                                        {"address": "fd00:88::2/64"}],
        "routes": [{"dst": "10.89.0.0/16", "gw": "10.88.0.254"}]}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.1.0", "name": "tapnet", "type": "tap", "dad": "skip"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_l2_owner_group_multiqueue_mtu_mac(netns_factory, pycni_dir) -> None:
    """owner+group given: upstream's netlink path, IFF_TAP|IFF_VNET_HDR (+IFF_MULTI_QUEUE|IFF_NO_PI)."""
    side = single(netns_factory, pycni_dir, "tap")
    cfg = conf(owner=1000, group=100, multiQueue=True, mtu=1300, mac="0a:00:00:00:00:01")
    res = side.add(cfg, "tap0")
    assert res == {"cniVersion": "1.1.0",
                   "interfaces": [{"name": "tap0", "mac": "0a:00:00:00:00:01", "sandbox": side.cont_path}]}
    st = link_state(side.cont, "tap0")
    assert st["kind"] == "tun" and st["mtu"] == 1300 and "UP" in st["flags"]
    assert (st["data.type"], st["data.pi"], st["data.vnet_hdr"], st["data.multi_queue"], st["data.persist"]) == \
        ("tap", False, True, True, True)
    info = ipj(side.cont, "-d", "link", "show", "tap0")[0]["linkinfo"]["info_data"]
    assert str(info["user"]) in ("1000", _user_name(1000))  # iproute2 prints a name when it can
    assert str(info["group"]) in ("100", _group_name(100))
    assert link_names(side.host) == ["lo", "up0"]
    side.ok("CHECK", dict(cfg, prevResult=res), "tap0")
    side.ok("DEL", cfg, "tap0")
    assert link_names(side.cont) == ["lo"]
    side.ok("DEL", cfg, "tap0")


def _user_name(uid: int) -> str | None:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _group_name(gid: int) -> str | None:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def test_default_path_flags_like_ip_tuntap(netns_factory, pycni_dir) -> None:
    """owner/group not both given: upstream runs `ip tuntap add mode tap` (IFF_TAP|IFF_NO_PI); same flags here."""
    side = single(netns_factory, pycni_dir, "tap")
    side.add(conf(group=100), "tap0")
    st = link_state(side.cont, "tap0")
    assert (st["data.pi"], st["data.vnet_hdr"], st["data.multi_queue"], st["data.persist"]) == (False, False, False, True)
    info = ipj(side.cont, "-d", "link", "show", "tap0")[0]["linkinfo"]["info_data"]
    assert "user" not in info and "group" in info
    assert st["mtu"] == 1500 and "UP" in st["flags"]


def test_bridge_port_in_container(netns_factory, pycni_dir) -> None:
    side = single(netns_factory, pycni_dir, "tap")
    ip(side.cont, "link", "add", "br0", "type", "bridge")
    side.add(conf(bridge="br0"))
    assert link_state(side.cont, "eth0")["master"] == "br0"
    assert side.error("ADD", conf(bridge="nobr0"), "eth1") == "failed to get bridge nobr0: Link not found"
    assert link_names(side.cont) == ["br0", "eth0", "lo"]


def test_l3_add_check_disturb_del(netns_factory, pycni_dir) -> None:
    side = single(netns_factory, pycni_dir, "tap")
    cfg = conf(ipam=IPAM, dns={"nameservers": ["9.9.9.9"]})
    res = side.add(cfg, args="IgnoreUnknown=1;MAC=0a:58:0a:58:00:02")
    assert res == {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "mac": "0a:58:0a:58:00:02", "sandbox": side.cont_path}],
        "ips": [{"interface": 0, "address": "10.88.0.2/24", "gateway": "10.88.0.1"},
                {"interface": 0, "address": "fd00:88::2/64"}],
        "routes": [{"dst": "10.89.0.0/16", "gw": "10.88.0.254"}],
        "dns": {"nameservers": ["9.9.9.9"]},
    }
    assert [a[:3] for a in addr_state(side.cont, "eth0")] == [("inet", "10.88.0.2", 24), ("inet6", "fd00:88::2", 64)]
    assert ("-4", "10.89.0.0/16", "10.88.0.254", "eth0", None, None, None, "main") in route_state(side.cont)
    assert sysctl(side.cont, "net/ipv4/conf/eth0/arp_notify") == "1"
    assert sysctl(side.cont, "net/ipv6/conf/eth0/ndisc_notify") == "0"  # tap sets arp_notify only
    chk = dict(cfg, prevResult=res)
    side.ok("CHECK", chk)
    ip(side.cont, "addr", "del", "10.88.0.2/24", "dev", "eth0")
    assert side.error("CHECK", chk) == "Failed to match addr 10.88.0.2/24 on interface eth0"
    side.ok("DEL", cfg)
    assert link_names(side.cont) == ["lo"] and route_state(side.cont) == []
    side.ok("DEL", cfg)


def test_del_after_netns_removed(netns_factory, pycni_dir) -> None:
    side = single(netns_factory, pycni_dir, "tap")
    side.add(conf(ipam=IPAM))
    ip(None, "netns", "del", side.cont)
    side.ok("DEL", conf(ipam=IPAM))
    side.ok("DEL", conf(ipam=IPAM), netns="")


def test_failures_leave_nothing(netns_factory, pycni_dir) -> None:
    side = single(netns_factory, pycni_dir, "tap")
    ip(side.cont, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    assert side.error("ADD", conf()) == 'failed to rename tap to "eth0": file exists'
    assert side.error("ADD", conf(mtu=70000), "tap1") == "failed to create tap: invalid argument"
    bad_route = dict(IPAM, routes=[{"dst": "203.0.113.0/24", "gw": "203.0.113.1"}])
    assert side.error("ADD", conf(ipam=bad_route), "tap1").endswith("network is unreachable")
    assert link_names(side.cont) == ["eth0", "eth0p", "lo"]


def test_selinux_context_without_selinux(netns_factory, pycni_dir) -> None:
    if os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("SELinux is enabled here: the label would be accepted")
    side = single(netns_factory, pycni_dir, "tap")
    assert side.error("ADD", conf(selinuxContext="system_u:system_r:container_t:s0")) == \
        "failed set socket label: write /proc/thread-self/attr/exec: invalid argument"
    assert link_names(side.cont) == ["lo"]
