"""vlan on the fake kernel (this machine's kernel has no CONFIG_VLAN_8021Q): the exact RTM_NEWLINK, config checks,
IPAM wrapping, CHECK and DEL (upstream HEAD)."""

from __future__ import annotations

import struct
import sys

import pytest
from fakekernel import HOST, FakeKernel, created_exclusive, err_msg, ok, run_plugin

from pycni.linux import linkinfo
from pycni.netlink import codec as c
from pycni.plugins.main import vlan
from pycni.spec.errors import CNIError

P = vlan.PLUGIN
L3 = {"type": "static"}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "vlnet", "type": "vlan", "master": "up0", "vlanId": 100,
                  "ipam": L3, "dad": "skip"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def k(kernel: FakeKernel) -> FakeKernel:
    kernel.add_link(HOST, "up0", mtu=1500)
    return kernel.with_container()


def test_add_sends_vlan_newlink(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(vlanId=4094, mtu=1400)))
    ns, attrs = created_exclusive(k)
    assert ns == HOST
    assert [a for a, _ in attrs] == [c.IFLA_LINK, c.IFLA_IFNAME, c.IFLA_MTU, c.IFLA_NET_NS_FD, c.IFLA_LINKINFO]
    a = dict(attrs)
    assert int.from_bytes(a[c.IFLA_LINK], sys.byteorder) == k.link(HOST, "up0").index
    assert int.from_bytes(a[c.IFLA_MTU], sys.byteorder) == 1400
    info = dict(c.parse_attrs(a[c.IFLA_LINKINFO]))
    assert info[c.IFLA_INFO_KIND] == b"vlan"
    assert c.parse_attrs(info[c.IFLA_INFO_DATA]) == [(linkinfo.IFLA_VLAN_ID, struct.pack("=H", 4094)),
                                                    (linkinfo.IFLA_VLAN_FLAGS, bytes(8))]


def test_add_result(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf()))
    eth0 = k.link("/cont", "eth0")
    assert eth0.kind == "vlan" and eth0.flags & c.IFF_UP
    assert res["interfaces"] == [{"name": "eth0", "mac": eth0.address, "sandbox": "/cont"}]
    assert "dns" not in res  # the config has none; IPAM's DNS is replaced, as upstream
    assert k.ns["/cont"].sysctls.get("net/ipv4/conf/eth0/arp_notify") is None  # vlan sets no notify sysctls


@pytest.mark.parametrize("cfg,msg", [
    ({"master": None}, '"master" field is required. It specifies the host interface name to create the VLAN for'),
    ({"vlanId": 4095}, "invalid VLAN ID 4095 (must be between 0 and 4095 inclusive)"),
    ({"vlanId": -1}, "invalid VLAN ID -1 (must be between 0 and 4095 inclusive)"),
    ({"mtu": 1501}, "invalid MTU 1501, must be [0, master MTU(1500)]"),
    ({"master": "nope"}, "Link not found"),
    ({"vlanId": "7"}, "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.vlanId of type int"),
])
def test_config_errors(k: FakeKernel, cfg: dict, msg: str) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(**cfg))) == msg


def test_kernel_without_8021q(k: FakeKernel) -> None:
    k.unsupported.add("vlan")
    assert err_msg(run_plugin(P, "ADD", conf())) == "failed to create vlan: operation not supported"


def test_ipam_errors_are_wrapped_and_link_removed(k: FakeKernel) -> None:
    k.ipam_error = CNIError(11, "no more addresses", "range full")
    r = run_plugin(P, "ADD", conf())
    assert (r[1].code, r[1].msg) == (999, "failed to execute IPAM delegate: no more addresses; range full")
    assert k.names("/cont") == ["lo"]
    assert err_msg(run_plugin(P, "ADD", conf(ipam=None))) == "failed to execute IPAM delegate: no plugin name provided"


def test_check_and_del(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(mtu=1400)))
    cfg = conf(mtu=1400, prevResult=res)
    ok(run_plugin(P, "CHECK", cfg))
    assert err_msg(run_plugin(P, "CHECK", dict(cfg, vlanId=7))) == \
        "Error: container vlan eth0 has VLAN ID 100, expected 7"
    assert err_msg(run_plugin(P, "CHECK", dict(cfg, mtu=1300))) == \
        "Error: Tuning configured MTU of eth0 is 1300, current value is 1400"
    assert err_msg(run_plugin(P, "CHECK", conf())) == "vlan: Required prevResult missing"
    ok(run_plugin(P, "DEL", cfg))
    assert k.names("/cont") == ["lo"]
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "vlan: Container Interface name in prevResult: eth0 not found"
    ok(run_plugin(P, "DEL", cfg))
    ok(run_plugin(P, "DEL", cfg, netns="/gone"))
    del k.ns[HOST].links[k.link(HOST, "up0").index]
    ok(run_plugin(P, "DEL", cfg))  # the master has gone too: DEL still releases the IP
    assert k.ipam_calls.count("DEL static") == 4


def test_del_without_ipam_fails_as_upstream(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "DEL", conf(ipam=None))) == "no plugin name provided"


def test_status_always_asks_ipam(k: FakeKernel) -> None:
    ok(run_plugin(P, "STATUS", conf(cniVersion="1.1.0")))
    assert err_msg(run_plugin(P, "STATUS", conf(cniVersion="1.1.0", ipam=None))) == "no plugin name provided"


def test_link_in_container(k: FakeKernel) -> None:
    k.add_link("/cont", "cm0", mtu=9000)
    ok(run_plugin(P, "ADD", conf(master="cm0", linkInContainer=True, mtu=9000)))
    assert created_exclusive(k)[0] == "/cont"
    assert k.link("/cont", "eth0").mtu == 9000
