"""ipvlan on the fake kernel (this machine's kernel has no CONFIG_IPVLAN): the exact RTM_NEWLINK, master defaults
(default route / chained prevResult), mandatory IPAM, chained addresses, CHECK and DEL (upstream HEAD)."""

from __future__ import annotations

import struct
import sys
from socket import AF_INET

import pytest
from fakekernel import HOST, FakeKernel, created_exclusive, err_msg, ok, run_plugin

from pycni.linux import linkinfo
from pycni.netlink import codec as c
from pycni.plugins.main import ipvlan

P = ipvlan.PLUGIN
L3 = {"type": "static"}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "ipvnet", "type": "ipvlan", "master": "up0", "ipam": L3,
                  "dad": "skip"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def k(kernel: FakeKernel) -> FakeKernel:
    up0 = kernel.add_link(HOST, "up0", mtu=9000)
    kernel.ns[HOST].routes.append(c.Route(family=AF_INET, dst=None, dst_len=0, oif=up0.index))
    return kernel.with_container()


@pytest.mark.parametrize("mode,value", [(None, 0), ("l2", 0), ("l3", 1), ("l3s", 2)])
def test_add_sends_ipvlan_newlink(k: FakeKernel, mode: str | None, value: int) -> None:
    ok(run_plugin(P, "ADD", conf(mode=mode, mtu=1450)))
    ns, attrs = created_exclusive(k)
    assert ns == HOST
    assert [a for a, _ in attrs] == [c.IFLA_LINK, c.IFLA_IFNAME, c.IFLA_MTU, c.IFLA_NET_NS_FD, c.IFLA_LINKINFO]
    a = dict(attrs)
    assert int.from_bytes(a[c.IFLA_LINK], sys.byteorder) == k.link(HOST, "up0").index
    assert a[c.IFLA_IFNAME].startswith(b"veth")
    info = dict(c.parse_attrs(a[c.IFLA_LINKINFO]))
    assert info[c.IFLA_INFO_KIND] == b"ipvlan"
    assert c.parse_attrs(info[c.IFLA_INFO_DATA]) == [(linkinfo.IFLA_IPVLAN_MODE, struct.pack("=H", value)),
                                                    (linkinfo.IFLA_IPVLAN_FLAG, struct.pack("=H", 0))]


def test_add_result_and_state(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(dns={"domain": "example"})))
    eth0 = k.link("/cont", "eth0")
    assert eth0.kind == "ipvlan" and eth0.flags & c.IFF_UP
    assert res == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": eth0.address, "sandbox": "/cont"}],
        "ips": [{"interface": 0, "address": "192.0.2.100/24", "gateway": "192.0.2.1"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "192.0.2.254"}],
        "dns": {"domain": "example"},
    }
    assert k.ns["/cont"].sysctls == {"net/ipv4/conf/eth0/arp_notify": "1", "net/ipv6/conf/eth0/ndisc_notify": "1"}


def test_unknown_mode(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(mode="l4"))) == 'unknown ipvlan mode: "l4"'


def test_kernel_without_ipvlan(k: FakeKernel) -> None:
    k.unsupported.add("ipvlan")
    assert err_msg(run_plugin(P, "ADD", conf())) == "failed to create ipvlan: operation not supported"
    assert k.ipam_calls == [] and k.names("/cont") == ["lo"]


def test_master_defaults_to_default_route_device(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(master=None)))
    assert int.from_bytes(dict(created_exclusive(k)[1])[c.IFLA_LINK], sys.byteorder) == k.link(HOST, "up0").index


def test_chained_master_and_addresses_from_prev_result(k: FakeKernel) -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "up0"}],
            "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 0}]}
    res = ok(run_plugin(P, "ADD", conf(master=None, ipam=None, prevResult=prev)))
    assert k.ipam_calls == []  # no IPAM: the chained addresses are configured
    assert res["ips"] == [{"interface": 0, "address": "10.1.0.5/16", "gateway": "10.1.0.1"}]
    assert [a.cidr for a in k.ns["/cont"].addrs] == ["10.1.0.5/16"]
    assert int.from_bytes(dict(created_exclusive(k)[1])[c.IFLA_LINK], sys.byteorder) == k.link(HOST, "up0").index


def test_chained_master_needs_single_named_interface(k: FakeKernel) -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "a"}, {"name": "b"}]}
    assert err_msg(run_plugin(P, "ADD", conf(master=None, prevResult=prev))) == \
        "chained master failure. PrevResult lacks a single named interface"


def test_ipam_is_mandatory_without_chained_ips(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(ipam=None))) == "no plugin name provided"
    assert k.names("/cont") == ["lo"]  # pycni removes the link it made (upstream leaks it)


def test_bad_prev_result(k: FakeKernel) -> None:
    msg = err_msg(run_plugin(P, "ADD", conf(prevResult={"ips": "x"})))
    assert msg.startswith("could not parse prevResult: could not parse prevResult: ")


def test_configure_failure_rolls_back(k: FakeKernel) -> None:
    k.fail[(c.RTM_NEWROUTE, "")] = 22
    msg = err_msg(run_plugin(P, "ADD", conf()))
    assert msg.startswith("failed to add route '") and msg.endswith("': invalid argument")
    assert k.names("/cont") == ["lo"] and k.ipam_calls == ["ADD static", "DEL static"]


def test_del_check_status(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(mode="l3")))
    cfg = conf(mode="l3", prevResult=res)
    ok(run_plugin(P, "CHECK", cfg))
    assert err_msg(run_plugin(P, "CHECK", dict(cfg, mode="l2"))) == \
        "Container IPVlan mode l3 does not match expected value: l2"
    assert err_msg(run_plugin(P, "CHECK", conf())) == "Required prevResult missing"
    assert err_msg(run_plugin(P, "CHECK", cfg, netns="/host")) == \
        "Sandbox in prevResult  doesn't match configured netns: /host"
    ok(run_plugin(P, "DEL", cfg))
    assert k.names("/cont") == ["lo"]
    ok(run_plugin(P, "DEL", cfg))
    ok(run_plugin(P, "DEL", cfg, netns="/gone"))
    ok(run_plugin(P, "STATUS", conf(cniVersion="1.1.0")))
    ok(run_plugin(P, "GC", conf(cniVersion="1.1.0")))
    assert k.ipam_calls == ["ADD static", "CHECK static", "CHECK static", "CHECK static", "CHECK static",
                            "DEL static", "DEL static", "DEL static", "STATUS static", "GC static"]


def test_check_without_master_skips_master_lookup(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(master=None)))
    ok(run_plugin(P, "CHECK", conf(master=None, prevResult=res)))


def test_del_without_master_or_default_route(k: FakeKernel) -> None:
    k.ns[HOST].routes.clear()
    ok(run_plugin(P, "DEL", conf(master=None)))
    ok(run_plugin(P, "DEL", conf(master=None, ipam=None)))
    assert k.ipam_calls == ["DEL static"]


def test_link_in_container(k: FakeKernel) -> None:
    k.add_link("/cont", "cm0")
    ok(run_plugin(P, "ADD", conf(master="cm0", linkInContainer=True)))
    ns, attrs = created_exclusive(k)
    assert ns == "/cont"
    assert int.from_bytes(dict(attrs)[c.IFLA_LINK], sys.byteorder) == k.link("/cont", "cm0").index
