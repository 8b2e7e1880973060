"""configure_iface / check_iface and the netlink, netns and sysctl layers against a real kernel (root).

Each test gets fresh namespaces from conftest (container `eth0` = veth, peer `host0` up in a "host" namespace).
Upstream cases L1-L10 are pkg/ipam/ipam_linux_test.go's (ipam-inventory §9.8); on pycni L2 is ONE route with two
nexthops. Expected state is read back with iproute2 JSON only.
"""

from __future__ import annotations

import copy
import os
import re
import socket
import threading
import time

import pytest

from pycni.ipam.configure import check_iface, configure_iface
from pycni.linux import sysctl
from pycni.linux.addr import addr_add, addr_del, addr_list
from pycni.linux.link import (
    VethError,
    link_by_index,
    link_by_name,
    link_del,
    link_set_down,
    link_set_mtu,
    link_set_up,
    make_veth,
    setup_veth,
)
from pycni.linux.route import make_route, route_add, route_add_ecmp, route_del, route_list
from pycni.netlink import codec as c
from pycni.netlink.netns import (
    NetNSError,
    NSPathNotExistError,
    NSPathNotNSError,
    check_netns_path,
    netns,
    netns_id,
    open_netns,
    run_in_netns,
    same_netns,
)
from pycni.netlink.socket import ExistsError, LinkNotFoundError, NoProcessError
from pycni.spec.errors import CNIError

pytestmark = pytest.mark.kernel


def upstream_result() -> dict:
    """The fixture of ipam_linux_test.go (routeTable 5000 is the BeforeEach-local one)."""
    return {
        "cniVersion": "1.1.0",
        "interfaces": [
            {"name": "eth0", "mac": "00:11:22:33:44:55", "sandbox": "/proc/3553/ns/net"},
            {"name": "fake0", "mac": "00:33:44:55:66:77", "sandbox": "/proc/1234/ns/net"},
        ],
        "ips": [
            {"interface": 0, "address": "1.2.3.30/24", "gateway": "1.2.3.1"},
            {"interface": 0, "address": "abcd:1234:ffff::cdde/64", "gateway": "abcd:1234:ffff::1"},
        ],
        "routes": [
            {"dst": "15.5.6.0/24", "gw": "1.2.3.5"},
            {"dst": "1111:dddd::/80", "gw": "abcd:1234:ffff::10"},
            {"dst": "15.5.6.0/24", "gw": "1.2.3.5", "table": 5000},
            {"dst": "1.2.3.4/32", "scope": 200},
        ],
    }


def seed_result(w1: int = 1, w2: int = 3) -> dict:
    return {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0"}],
        "ips": [
            {"interface": 0, "address": "10.10.0.2/24", "gateway": "10.10.0.1"},
            {"interface": 0, "address": "fd00:10::2/64", "gateway": "fd00:10::1"},
        ],
        "routes": [
            {"dst": "0.0.0.0/0", "weight": w1},
            {"dst": "0.0.0.0/0", "gw": "10.10.0.254", "weight": w2},
            {"dst": "::/0", "weight": w1},
            {"dst": "::/0", "gw": "fd00:10::fe", "weight": w2},
        ],
    }


def configure(veth, result: dict, ifname: str = "eth0", **kw) -> None:
    with netns(veth.cont_path):
        configure_iface(ifname, result, **kw)


def check(veth, result: dict, ifname: str = "eth0") -> None:
    with netns(veth.cont_path):
        check_iface(ifname, result)


def find(routes: list[dict], dst: str, **match) -> list[dict]:
    return [r for r in routes if r["dst"] == dst and all(r.get(k) == v for k, v in match.items())]


def metrics(r: dict) -> dict:
    out: dict = {}
    for m in r.get("metrics", []):
        out.update(m)
    return out


def gateways(r: dict) -> list[tuple[str, int]]:
    if "nexthops" in r:
        return [(h["gateway"], h.get("weight", 1)) for h in r["nexthops"]]
    return [(r["gateway"], 1)] if "gateway" in r else []


# ---------------------------------------------------------------------------------------------
# Upstream cases L1-L10


def test_L1_addresses_and_routes(veth, iproute2) -> None:
    configure(veth, upstream_result())
    v4 = iproute2.addrs(veth.cont, "eth0", "inet")
    assert [(a["local"], a["prefixlen"]) for a in v4] == [("1.2.3.30", 24)]
    assert v4[0]["broadcast"] == "1.2.3.255"  # computed for prefixes < /31, as the Go netlink library does
    v6 = iproute2.addrs(veth.cont, "eth0", "inet6")
    assert len(v6) == 2 and ("abcd:1234:ffff::cdde", 64) in [(a["local"], a["prefixlen"]) for a in v6]
    assert not any(a.get("tentative") for a in v6)  # DAD settled (v6 gateway present, dad="wait")

    main4 = iproute2.routes(veth.cont, "-4", "table", "main")
    assert gateways(find(main4, "15.5.6.0/24")[0]) == [("1.2.3.5", 1)]
    scoped = find(main4, "1.2.3.4")
    assert len(scoped) == 1 and scoped[0]["scope"] == "site" and scoped[0]["gateway"] == "1.2.3.1"
    t5000 = iproute2.routes(veth.cont, "-4", "table", "5000")
    assert [gateways(r) for r in find(t5000, "15.5.6.0/24")] == [[("1.2.3.5", 1)]]
    v6r = find(iproute2.routes(veth.cont, "-6", "table", "main"), "1111:dddd::/80")
    assert [gateways(r) for r in v6r] == [[("abcd:1234:ffff::10", 1)]]
    assert iproute2.ipj(veth.cont, "link", "show", "eth0")[0]["operstate"] == "UP"
    # Sysctls set before the first IPv6 address.
    assert iproute2.run("sysctl", "-n", "net.ipv6.conf.eth0.keep_addr_on_down", ns=veth.cont).stdout.strip() == "1"
    check(veth, upstream_result())


def test_L2_same_destination_two_gateways_is_one_multipath_route(veth, iproute2) -> None:
    res = upstream_result()
    res["routes"] = [{"dst": "15.5.6.0/24", "gw": "1.2.3.5"}, {"dst": "15.5.6.0/24", "gw": "1.2.3.6"}]
    configure(veth, res)
    rs = find(iproute2.routes(veth.cont, "-4"), "15.5.6.0/24")
    assert len(rs) == 1, rs
    assert gateways(rs[0]) == [("1.2.3.5", 1), ("1.2.3.6", 1)]
    assert all(h["dev"] == "eth0" for h in rs[0]["nexthops"])
    check(veth, res)


def test_L3_ipv6_address_survives_link_down(veth, iproute2) -> None:
    configure(veth, upstream_result())
    assert len(iproute2.addrs(veth.cont, "eth0", "inet6")) == 2
    iproute2.ip(veth.cont, "link", "set", "eth0", "down")
    v6 = iproute2.addrs(veth.cont, "eth0", "inet6")
    assert [(a["local"], a["prefixlen"]) for a in v6] == [("abcd:1234:ffff::cdde", 64)]


def test_L4_routes_without_gw_use_the_address_gateways(veth, iproute2) -> None:
    res = upstream_result()
    del res["routes"][0]["gw"], res["routes"][1]["gw"]
    configure(veth, res)
    main4 = iproute2.routes(veth.cont, "-4", "table", "main")
    assert gateways(find(main4, "15.5.6.0/24")[0]) == [("1.2.3.1", 1)]
    v6 = iproute2.routes(veth.cont, "-6", "table", "main")
    assert gateways(find(v6, "1111:dddd::/80")[0]) == [("abcd:1234:ffff::1", 1)]
    every = iproute2.routes(veth.cont, "-4")
    assert [("1.2.3.1", 1)] in [gateways(r) for r in find(every, "15.5.6.0/24")]
    assert [("1.2.3.5", 1)] in [gateways(r) for r in find(every, "15.5.6.0/24", table="5000")]


@pytest.mark.parametrize("idx", [1, 2, -1], ids=["L5-other-iface", "L6-too-big", "L7-negative"])
def test_L5_L6_L7_invalid_interface_index(veth, iproute2, idx: int) -> None:
    res = upstream_result()
    res["ips"][0]["interface"] = idx
    with pytest.raises(CNIError) as ei:
        configure(veth, res)
    assert ei.value.code == 999
    assert ei.value.msg == (f'failed to add IP addr {{Interface:{idx} Address:{{IP:1.2.3.30 Mask:ffffff00}} '
                            f'Gateway:1.2.3.1}} to "eth0": invalid interface index')
    assert iproute2.addrs(veth.cont, "eth0", "inet") == []


def test_L8_no_interfaces(veth) -> None:
    res = upstream_result()
    res["interfaces"] = []
    with pytest.raises(CNIError, match="^no interfaces to configure$"):
        configure(veth, res)


def test_L9_missing_link(veth) -> None:
    with pytest.raises(CNIError) as ei:
        configure(veth, upstream_result(), ifname="asdfasdf")
    assert ei.value.msg == 'failed to lookup "asdfasdf": Link not found'


def test_L10_ips_without_interface_are_skipped(veth, iproute2) -> None:
    res = {"cniVersion": "1.1.0", "interfaces": [{"name": "eth0"}, {"name": "fake0"}],
           "ips": [{"address": "10.1.2.3/24", "gateway": "10.1.2.1"}, {"address": "fd00:9::3/64"}]}
    configure(veth, res)
    assert iproute2.addrs(veth.cont, "eth0", "inet") == []
    assert all(a["scope"] == "link" for a in iproute2.addrs(veth.cont, "eth0", "inet6"))
    assert "UP" in iproute2.ipj(veth.cont, "link", "show", "eth0")[0]["flags"]


# ---------------------------------------------------------------------------------------------
# pycni additions: ECMP, weights, metrics, tables, duplicates


def test_seed_ecmp_v4_and_v6_weighted(veth, iproute2) -> None:
    configure(veth, seed_result(1, 3))
    for fam in ("-4", "-6"):
        defaults = find(iproute2.routes(veth.cont, fam), "default")
        assert len(defaults) == 1, (fam, defaults)
        want = [("10.10.0.1", 1), ("10.10.0.254", 3)] if fam == "-4" else [("fd00:10::1", 1), ("fd00:10::fe", 3)]
        assert gateways(defaults[0]) == want
    check(veth, seed_result(1, 3))


def test_metrics_priority_and_table_5000(veth, iproute2) -> None:
    res = seed_result()
    res["routes"] = [
        {"dst": "192.168.0.0/16", "gw": "10.10.0.5", "mtu": 1400, "advmss": 1360, "table": 5000, "priority": 10},
        # the kernel keeps one set of metrics per multipath route: both nexthops' routes must agree
        {"dst": "192.168.0.0/16", "gw": "10.10.0.6", "mtu": 1400, "advmss": 1360, "table": 5000, "priority": 10},
        {"dst": "fd00:77::/64", "gw": "fd00:10::5", "mtu": 1380, "priority": 20},
    ]
    configure(veth, res)
    (r4,) = find(iproute2.routes(veth.cont, "-4"), "192.168.0.0/16")
    assert r4["metric"] == 10 and r4["table"] == "5000"
    assert metrics(r4) == {"mtu": 1400, "advmss": 1360}
    assert gateways(r4) == [("10.10.0.5", 1), ("10.10.0.6", 1)]
    (r6,) = find(iproute2.routes(veth.cont, "-6"), "fd00:77::/64")
    assert r6["metric"] == 20 and metrics(r6) == {"mtu": 1380} and r6["gateway"] == "fd00:10::5"
    assert find(iproute2.routes(veth.cont, "-4", "table", "main"), "192.168.0.0/16") == []
    check(veth, res)


def test_duplicate_route_is_an_error(veth, iproute2) -> None:
    res = upstream_result()
    res["routes"] = [{"dst": "15.5.6.0/24", "gw": "1.2.3.5"}, {"dst": "15.5.6.0/24", "gw": "1.2.3.5"}]
    with pytest.raises(CNIError) as ei:
        configure(veth, res)
    assert ei.value.msg == ("failed to add route '{15.5.6.0 ffffff00} via 1.2.3.5 dev eth0 metric 0 "
                            "(Scope: universe, Table: 0)': file exists")


def test_route_already_in_kernel_is_file_exists(veth, iproute2) -> None:
    iproute2.ip(veth.cont, "addr", "add", "10.10.0.9/24", "dev", "eth0")
    iproute2.ip(veth.cont, "link", "set", "eth0", "up")
    iproute2.ip(veth.cont, "route", "add", "default", "via", "10.10.0.1")
    res = seed_result()
    res["routes"] = [{"dst": "0.0.0.0/0", "gw": "10.10.0.1", "priority": 0}]
    with pytest.raises(CNIError, match=r"^failed to add route '\{0\.0\.0\.0 00000000\} via 10\.10\.0\.1 dev eth0 "
                                       r"metric 0 \(Scope: universe, Table: 0\)': file exists$"):
        configure(veth, res)
    # A multipath group is added exclusively: an existing same-destination route is not merged into.
    res["routes"] = [{"dst": "0.0.0.0/0", "gw": "10.10.0.5"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.6"}]
    res["ips"] = []
    with pytest.raises(CNIError, match=r"via \[10\.10\.0\.5 10\.10\.0\.6\] dev eth0 .*: file exists$"):
        configure(veth, res)


def test_route_failure_message_from_kernel(veth) -> None:
    res = seed_result()
    res["routes"] = [{"dst": "10.99.0.0/16", "gw": "192.0.2.1"}]  # gateway not on any connected network
    with pytest.raises(CNIError) as ei:
        configure(veth, res)
    assert ei.value.msg == ("failed to add route '{10.99.0.0 ffff0000} via 192.0.2.1 dev eth0 metric 0 "
                            "(Scope: universe, Table: 0)': network is unreachable")


def test_group_after_same_destination_link_route(veth, iproute2) -> None:
    res = seed_result()
    res["ips"] = [{"interface": 0, "address": "10.10.0.2/24"}]  # no gateway: dst-only routes are link routes
    res["routes"] = [{"dst": "10.5.0.0/16"}, {"dst": "10.5.0.0/16", "gw": "10.10.0.1"},
                     {"dst": "10.5.0.0/16", "gw": "10.10.0.254"}]
    configure(veth, res)
    rs = find(iproute2.routes(veth.cont, "-4"), "10.5.0.0/16")
    assert sorted(map(gateways, rs)) == [[], [("10.10.0.1", 1), ("10.10.0.254", 1)]]
    check(veth, res)


# ---------------------------------------------------------------------------------------------
# DAD


def test_dad_skip_adds_nodad_and_does_not_wait(veth, iproute2) -> None:
    t0 = time.monotonic()
    configure(veth, seed_result(), dad="skip")
    skip_time = time.monotonic() - t0
    (mine,) = [a for a in iproute2.addrs(veth.cont, "eth0", "inet6") if a["local"] == "fd00:10::2"]
    assert mine.get("nodad") is True and not mine.get("tentative")
    assert skip_time < 1.0, skip_time


def test_dad_wait_settles_every_ipv6_address(veth, iproute2) -> None:
    configure(veth, seed_result(), dad="wait")
    v6 = iproute2.addrs(veth.cont, "eth0", "inet6")
    assert len(v6) == 2 and not any(a.get("tentative") or a.get("nodad") for a in v6)


def test_dad_failure_fails_fast(veth, iproute2) -> None:
    iproute2.ip(veth.host, "addr", "add", "fd00:10::2/64", "dev", "host0", "nodad")
    t0 = time.monotonic()
    with pytest.raises(CNIError) as ei:
        configure(veth, seed_result())
    assert ei.value.msg == 'failed to settle addresses for "eth0": link eth0 has address fd00:10::2 in DADFAILED state'
    assert time.monotonic() - t0 < 4.5


def test_dad_timeout_without_carrier_is_success(veth, iproute2) -> None:
    # Peer down: no carrier, DAD never runs, addresses stay tentative; the reference then returns success.
    iproute2.ip(veth.host, "link", "set", "host0", "down")
    t0 = time.monotonic()
    configure(veth, seed_result())
    assert time.monotonic() - t0 >= 5.0
    assert any(a.get("tentative") for a in iproute2.addrs(veth.cont, "eth0", "inet6"))


def test_bad_dad_value(veth) -> None:
    with pytest.raises(ValueError):
        configure(veth, seed_result(), dad="maybe")


# ---------------------------------------------------------------------------------------------
# check_iface


def test_check_fails_after_address_removed(veth, iproute2) -> None:
    res = seed_result()
    configure(veth, res)
    check(veth, res)
    iproute2.ip(veth.cont, "addr", "del", "fd00:10::2/64", "dev", "eth0")
    with pytest.raises(CNIError) as ei:
        check(veth, res)
    assert ei.value.code == 999 and ei.value.msg == "Failed to match addr fd00:10::2/64 on interface eth0"


def test_check_fails_after_a_nexthop_is_removed(veth, iproute2) -> None:
    res = seed_result(1, 3)
    configure(veth, res)
    iproute2.ip(veth.cont, "route", "replace", "default", "via", "10.10.0.1", "dev", "eth0")
    with pytest.raises(CNIError) as ei:
        check(veth, res)
    assert ei.value.msg == "Expected route 0.0.0.0/0 via 10.10.0.254 dev eth0 weight 3 not found in routing table"
    # Weights are part of the check too.
    iproute2.ip(veth.cont, "route", "replace", "default", "nexthop", "via", "10.10.0.1", "weight", "1",
                "nexthop", "via", "10.10.0.254", "weight", "2")
    with pytest.raises(CNIError, match="via 10.10.0.254 dev eth0 weight 3 not found"):
        check(veth, res)
    iproute2.ip(veth.cont, "route", "replace", "default", "nexthop", "via", "10.10.0.1", "weight", "1",
                "nexthop", "via", "10.10.0.254", "weight", "3")
    check(veth, res)
    iproute2.ip(veth.cont, "-6", "route", "replace", "default", "via", "fd00:10::fe", "dev", "eth0")
    with pytest.raises(CNIError, match=r"^Expected route ::/0 via fd00:10::1 dev eth0 weight 1 not found"):
        check(veth, res)


def test_check_plain_route_in_other_table(veth, iproute2) -> None:
    res = upstream_result()
    configure(veth, res)
    check(veth, res)
    iproute2.ip(veth.cont, "route", "del", "15.5.6.0/24", "table", "5000")
    with pytest.raises(CNIError, match=r"^Expected route 15.5.6.0/24 via 1.2.3.5 dev eth0 table 5000 not found"):
        check(veth, res)


# ---------------------------------------------------------------------------------------------
# netns


def test_netns_enters_and_always_returns(veth) -> None:
    home = netns_id()
    target = netns_id(veth.cont_path)
    assert home != target
    with netns(veth.cont_path):
        assert netns_id() == target and same_netns(veth.cont_path)
        assert link_by_name("eth0").name == "eth0"
    assert netns_id() == home and not same_netns(veth.cont_path)
    with pytest.raises(RuntimeError, match="boom"):
        with netns(veth.cont_path):
            raise RuntimeError("boom")
    assert netns_id() == home
    # Nesting returns step by step.
    with netns(veth.cont_path):
        with netns(veth.host_path):
            assert netns_id() == netns_id(veth.host_path)
        assert netns_id() == target
    assert netns_id() == home
    assert run_in_netns(veth.host_path, lambda: link_by_name("host0").name) == "host0"
    assert netns_id() == home


def test_netns_path_errors(tmp_path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(NSPathNotExistError) as ei:
        check_netns_path(missing)
    assert str(ei.value) == f'failed to Statfs "{missing}": no such file or directory'
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(NSPathNotNSError, match=r'^unknown FS magic on "' + re.escape(str(plain)) + r'": [0-9a-f]+$'):
        check_netns_path(str(plain))
    # A procfs file passes the check (as in the reference) and setns then refuses it.
    home = netns_id()
    with pytest.raises(NetNSError, match="^error switching to ns /proc/self/status: Error switching to ns "):
        with netns("/proc/self/status"):
            pass
    assert netns_id() == home
    check_netns_path("/proc/self/ns/net")
    os.close(open_netns("/proc/self/ns/net"))


def test_sysctl_follows_the_thread_namespace(veth, iproute2) -> None:
    host_before = sysctl.get("net.ipv4.ip_forward")
    go, seen = threading.Event(), []

    def other() -> None:  # started before entering: it stays in the original namespace
        go.wait(10)
        seen.append(sysctl.get("net/ipv4/ip_forward"))

    t = threading.Thread(target=other)
    t.start()
    inherited: list[str] = []
    with netns(veth.cont_path):
        assert sysctl.set("net.ipv4.ip_forward", "1") == "1"
        go.set()
        t.join()
        # A thread *created* inside inherits the namespace of its creator.
        t2 = threading.Thread(target=lambda: inherited.append(sysctl.get("net/ipv4/ip_forward")))
        t2.start()
        t2.join()
        assert sysctl.get("net/ipv4/ip_forward") == "1"
    assert seen == [host_before] and inherited == ["1"]
    assert sysctl.get("net.ipv4.ip_forward") == host_before
    assert iproute2.run("sysctl", "-n", "net.ipv4.ip_forward", ns=veth.cont).stdout.strip() == "1"


def test_sysctl_dot_and_slash_forms_with_dotted_ifname(veth, iproute2) -> None:
    iproute2.ip(veth.cont, "link", "add", "cnitest.12", "type", "veth", "peer", "name", "cnitest.13")
    with netns(veth.cont_path):
        assert sysctl.sysctl("net.ipv4.conf.cnitest/12.proxy_arp", "1") == "1"
        assert sysctl.sysctl("net/ipv4/conf/cnitest.12/proxy_arp") == "1"
        assert sysctl.sysctl("net/ipv4/conf/cnitest.12/proxy_arp", "0") == "0"
        assert sysctl.sysctl("net.ipv4.conf.cnitest/12.proxy_arp") == "0"
        with pytest.raises(OSError) as ei:
            sysctl.get("net/ipv4/conf/nosuchif/proxy_arp")
        assert str(ei.value) == "open /proc/sys/net/ipv4/conf/nosuchif/proxy_arp: no such file or directory"
        with pytest.raises(ValueError, match="unexcepted additional parameters"):
            sysctl.sysctl("net.ipv4.ip_forward", "1", "2")
    assert sysctl.normalize("net.ipv4.conf.cnitest/12.proxy_arp") == "net/ipv4/conf/cnitest.12/proxy_arp"


# ---------------------------------------------------------------------------------------------
# link / addr / route verbs


def test_setup_veth_random_peer_in_host_ns(veth, iproute2, netns_factory) -> None:
    cont2 = netns_factory.new("c2")
    with netns(f"/run/netns/{cont2}"):
        host, cont = setup_veth("eth1", "", 1400, "02:00:00:aa:bb:cc", veth.host_path)
    assert re.fullmatch(r"veth[0-9a-f]{8}", host.name or "")
    (h,) = iproute2.ipj(veth.host, "link", "show", host.name)
    assert "UP" in h["flags"] and h["mtu"] == 1400 and h["ifindex"] == host.index
    assert iproute2.run("sysctl", "-n", f"net.ipv6.conf.{host.name}.accept_ra", ns=veth.host).stdout.strip() == "0"
    (cl,) = iproute2.ipj(cont2, "link", "show", "eth1")
    assert cl["address"] == "02:00:00:aa:bb:cc" == cont.address and cl["mtu"] == 1400 and cont.index == cl["ifindex"]
    # Clashes, with the reference's texts.
    with netns(f"/run/netns/{cont2}"):
        fd = open_netns(veth.host_path)
        try:
            with pytest.raises(VethError, match=r'^container veth name \("eth1"\) peer provided \("veth[0-9a-f]{8}"\) '
                                                r'already exists$'):
                make_veth("eth1", "", 0, "", fd)
            with pytest.raises(VethError, match=r'^container veth name \("eth9"\) peer provided \("host0"\) '
                                                r'already exists$'):
                make_veth("eth9", "host0", 0, "", fd)
            with pytest.raises(VethError, match=r"^failed to make veth pair: address zz:zz: invalid MAC address$"):
                make_veth("eth9", "", 0, "zz:zz", fd)
        finally:
            os.close(fd)


def test_link_addr_route_verbs(veth, iproute2) -> None:
    with netns(veth.cont_path):
        link = link_by_name("eth0")
        assert link_by_index(link.index).name == "eth0" and link.kind == "veth"
        link_set_mtu(link, 1300)
        link_set_up(link)
        addr_add(link.index, "10.20.0.2/24")
        with pytest.raises(ExistsError, match="^file exists$"):
            addr_add(link.index, "10.20.0.2/24")
        addr_add(link.index, "fd00:20::2/64", flags=c.IFA_F_NODAD)
        got = {(a.ip, a.prefixlen) for a in addr_list(link.index)}
        assert {("10.20.0.2", 24), ("fd00:20::2", 64)} <= got
        r = make_route("10.30.0.0/16", gw="10.20.0.1", oif=link.index, table=300, priority=5)
        route_add(r)
        with pytest.raises(ExistsError):
            route_add(r)
        route_add_ecmp(make_route("10.30.0.0/16", gw="10.20.0.7", oif=link.index, table=300, priority=5))
        listed = route_list(socket.AF_INET, table=300, dst="10.30.0.0/16")
        # Upstream-style CREATE-only adds on IPv4 stay separate routes; the newest is listed first.
        assert [x.gateways() for x in listed] == [["10.20.0.7"], ["10.20.0.1"]]
        route_del(listed[0])
        assert [x.gateways() for x in route_list(socket.AF_INET, table=300)] == [["10.20.0.1"]]
        with pytest.raises(NoProcessError):
            route_del(make_route("10.31.0.0/16", oif=link.index, table=300))
        addr_del(link.index, "10.20.0.2/24")
        link_set_down(link)
        with pytest.raises(LinkNotFoundError, match="^Link not found$"):
            link_by_name("nope0")
    assert iproute2.ipj(veth.cont, "link", "show", "eth0")[0]["mtu"] == 1300
    assert [a["local"] for a in iproute2.addrs(veth.cont, "eth0", "inet")] == []
    with netns(veth.cont_path):
        link_del(link_by_name("eth0"))
    assert iproute2.ip(veth.cont, "link", "show", "eth0", check=False) == ""


def test_result_is_not_mutated(veth) -> None:
    res = seed_result()
    before = copy.deepcopy(res)
    configure(veth, res)
    check(veth, res)
    assert res == before
