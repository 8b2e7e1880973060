"""macvlan on the fake kernel: config decoding and defaults, the exact RTM_NEWLINK it sends, ADD/CHECK/DEL/STATUS/GC
step by step, rollback and error texts (upstream HEAD plugins/main/macvlan)."""

from __future__ import annotations

import sys
from socket import AF_INET

import pytest
from fakekernel import HOST, FakeKernel, err_msg, ok, run_plugin

from pycni.linux import linkinfo
from pycni.netlink import codec as c
from pycni.plugins.main import macvlan
from pycni.spec.errors import CNIError

P = macvlan.PLUGIN


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "mvnet", "type": "macvlan", "master": "up0"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


L3 = {"type": "static"}


@pytest.fixture
def k(kernel: FakeKernel) -> FakeKernel:
    up0 = kernel.add_link(HOST, "up0", mtu=1500)
    kernel.ns[HOST].routes.append(c.Route(family=AF_INET, dst=None, dst_len=0, oif=up0.index, gateway="192.0.2.1"))
    return kernel.with_container()


# --- the netlink message --------------------------------------------------------------------------------------


def test_add_sends_macvlan_newlink_in_reference_attribute_order(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(mode="vepa", mtu=1400, mac="0a:58:c0:00:02:64", bcqueuelen=5000)))
    ns, flags, attrs = k.created()
    assert ns == HOST
    assert flags == c.NLM_F_CREATE | c.NLM_F_EXCL
    assert [a for a, _ in attrs] == [c.IFLA_LINK, c.IFLA_IFNAME, c.IFLA_MTU, c.IFLA_ADDRESS, c.IFLA_NET_NS_FD,
                                     c.IFLA_LINKINFO]
    a = dict(attrs)
    assert int.from_bytes(a[c.IFLA_LINK], sys.byteorder) == k.link(HOST, "up0").index
    name = a[c.IFLA_IFNAME].rstrip(b"\0").decode()
    assert name.startswith("veth") and len(name) == 12
    assert int.from_bytes(a[c.IFLA_MTU], sys.byteorder) == 1400
    assert a[c.IFLA_ADDRESS] == bytes.fromhex("0a58c0000264")
    info = dict(c.parse_attrs(a[c.IFLA_LINKINFO]))
    assert info[c.IFLA_INFO_KIND] == b"macvlan"
    assert c.parse_attrs(info[c.IFLA_INFO_DATA]) == [
        (linkinfo.IFLA_MACVLAN_MODE, (2).to_bytes(4, sys.byteorder)),
        (linkinfo.IFLA_MACVLAN_BC_QUEUE_LEN, (5000).to_bytes(4, sys.byteorder)),
    ]


@pytest.mark.parametrize("mode,value", [(None, 4), ("", 4), ("bridge", 4), ("private", 1), ("vepa", 2),
                                        ("passthru", 8)])
def test_modes_map_to_kernel_values(k: FakeKernel, mode: str | None, value: int) -> None:
    ok(run_plugin(P, "ADD", conf(mode=mode)))
    _ns, _f, attrs = k.created()
    data = dict(c.parse_attrs(dict(c.parse_attrs(dict(attrs)[c.IFLA_LINKINFO]))[c.IFLA_INFO_DATA]))
    assert data == {linkinfo.IFLA_MACVLAN_MODE: value.to_bytes(4, sys.byteorder)}  # no bcqueuelen, no mtu
    assert c.IFLA_MTU not in dict(attrs) and c.IFLA_ADDRESS not in dict(attrs)


def test_source_mode_is_rejected_as_upstream(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(mode="source"))) == 'unknown macvlan mode: "source"'
    assert k.names("/cont") == ["lo"]


# --- ADD -------------------------------------------------------------------------------------------------------


def test_l3_add_renames_configures_and_sets_notify_sysctls(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(ipam=L3, dad="skip", dns={"nameservers": ["9.9.9.9"]})))
    eth0 = k.link("/cont", "eth0")
    assert eth0 is not None and eth0.kind == "macvlan" and eth0.flags & c.IFF_UP
    assert k.names(HOST) == ["lo", "up0"]
    assert res == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": eth0.address, "sandbox": "/cont"}],
        "ips": [{"interface": 0, "address": "192.0.2.100/24", "gateway": "192.0.2.1"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "192.0.2.254"}],
        "dns": {"nameservers": ["9.9.9.9"]},  # the config's, never the IPAM plugin's
    }
    assert k.ns["/cont"].sysctls["net/ipv4/conf/eth0/arp_notify"] == "1"
    assert k.ns["/cont"].sysctls["net/ipv6/conf/eth0/ndisc_notify"] == "1"
    assert [a.cidr for a in k.ns["/cont"].addrs] == ["192.0.2.100/24"]
    assert k.ipam_calls == ["ADD static"]
    # the rename happens inside the container netns
    assert ("/cont", "NEWLINK(name=eth0)") in k.log()


def test_l2_add_only_sets_link_up(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(runtimeConfig={"mac": "0a:58:c0:00:02:65"}), ifname="net1"))
    assert res == {"cniVersion": "1.0.0",
                   "interfaces": [{"name": "net1", "mac": "0a:58:c0:00:02:65", "sandbox": "/cont"}]}
    assert k.link("/cont", "net1").flags & c.IFF_UP
    assert k.ns["/cont"].sysctls == {} and k.ipam_calls == []


def test_master_defaults_to_default_route_device(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(master=None)))
    _ns, _f, attrs = k.created()
    assert int.from_bytes(dict(attrs)[c.IFLA_LINK], sys.byteorder) == k.link(HOST, "up0").index


def test_no_default_route_without_master(k: FakeKernel) -> None:
    k.ns[HOST].routes.clear()
    assert err_msg(run_plugin(P, "ADD", conf(master=None))) == "no default route interface found"


def test_missing_master_is_raw_link_not_found(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(master="nope0"))) == "Link not found"


@pytest.mark.parametrize("mtu", [-1, 1501])
def test_mtu_bounded_by_master(k: FakeKernel, mtu: int) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(mtu=mtu))) == f"invalid MTU {mtu}, must be [0, master MTU(1500)]"


def test_mac_precedence_cni_args_then_runtime_config(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(mac="0a:00:00:00:00:01"), cni_args="IgnoreUnknown=1;MAC=0a:00:00:00:00:02"))
    assert res["interfaces"][0]["mac"] == "0a:00:00:00:00:02"
    res = ok(run_plugin(P, "ADD", conf(mac="0a:00:00:00:00:01", runtimeConfig={"mac": "0a:00:00:00:00:03"}),
                        cni_args="MAC=0a:00:00:00:00:02", ifname="eth1"))
    assert res["interfaces"][0]["mac"] == "0a:00:00:00:00:03"


def test_cni_args_errors_as_upstream(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(), cni_args="mac=0a:00:00:00:00:02")) == \
        'ARGS: unknown args ["mac=0a:00:00:00:00:02"]'
    assert err_msg(run_plugin(P, "ADD", conf(), cni_args="MAC")) == 'ARGS: invalid pair "MAC"'
    ok(run_plugin(P, "ADD", conf(), cni_args="IgnoreUnknown=true;mac=0a:00:00:00:00:02"))


def test_invalid_mac(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(mac="zz"))) == "invalid args zz for MAC addr: address zz: invalid MAC address"
    assert k.sent() == []


@pytest.mark.parametrize("key,value,gotype,what", [
    ("mtu", "1400", "int", "string"),
    ("linkInContainer", 1, "bool", "number"),
    ("bcqueuelen", -1, "uint32", "number -1"),
    ("bcqueuelen", 4294967296, "uint32", "number 4294967296"),
    ("bcqueuelen", "x", "uint32", "string"),
])
def test_config_type_errors_use_go_text(k: FakeKernel, key: str, value: object, gotype: str, what: str) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(**{key: value}))) == \
        f"failed to load netconf: json: cannot unmarshal {what} into Go struct field NetConf.{key} of type {gotype}"


def test_keys_match_case_insensitively(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", {"cniVersion": "1.0.0", "name": "n", "type": "macvlan", "MASTER": "up0", "Mode": "private"}))
    _ns, _f, attrs = k.created()
    data = dict(c.parse_attrs(dict(c.parse_attrs(dict(attrs)[c.IFLA_LINKINFO]))[c.IFLA_INFO_DATA]))
    assert data[linkinfo.IFLA_MACVLAN_MODE] == (1).to_bytes(4, sys.byteorder)


def test_missing_netns(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(), netns="/gone")) == \
        'failed to open netns "/gone": failed to Statfs "/gone": no such file or directory'


def test_link_in_container_creates_inside_with_container_master(k: FakeKernel) -> None:
    k.add_link("/cont", "cm0", mtu=9000)
    res = ok(run_plugin(P, "ADD", conf(master="cm0", linkInContainer=True, mtu=9000)))
    ns, _f, attrs = k.created()
    assert ns == "/cont"
    assert int.from_bytes(dict(attrs)[c.IFLA_LINK], sys.byteorder) == k.link("/cont", "cm0").index
    assert res["interfaces"][0]["name"] == "eth0" and k.link("/cont", "eth0").mtu == 9000


def test_link_in_container_default_master_is_container_default_route(k: FakeKernel) -> None:
    cm = k.add_link("/cont", "cm0")
    k.ns["/cont"].routes.append(c.Route(family=AF_INET, dst=None, dst_len=0, oif=cm.index))
    ok(run_plugin(P, "ADD", conf(master=None, linkInContainer=True)))
    assert k.created()[0] == "/cont"


def test_create_failure_text(k: FakeKernel) -> None:
    k.unsupported.add("macvlan")
    assert err_msg(run_plugin(P, "ADD", conf())) == "failed to create macvlan: operation not supported"


def test_rename_clash_deletes_temporary_link(k: FakeKernel) -> None:
    k.add_link("/cont", "eth0")
    assert err_msg(run_plugin(P, "ADD", conf())) == 'failed to rename macvlan to "eth0": file exists'
    assert k.names("/cont") == ["eth0", "lo"]


def test_ipam_failure_deletes_link(k: FakeKernel) -> None:
    k.ipam_error = CNIError(11, "no addresses left")
    res = run_plugin(P, "ADD", conf(ipam=L3))
    assert (res[1].code, res[1].msg) == (11, "no addresses left")
    assert k.names("/cont") == ["lo"] and k.ipam_calls == ["ADD static"]


def test_empty_ipam_result_releases_and_deletes(k: FakeKernel) -> None:
    k.ipam_result = {"cniVersion": "1.1.0"}
    assert err_msg(run_plugin(P, "ADD", conf(ipam=L3))) == "IPAM plugin returned missing IP config"
    assert k.names("/cont") == ["lo"] and k.ipam_calls == ["ADD static", "DEL static"]


def test_configure_failure_releases_ip_and_deletes_link(k: FakeKernel) -> None:
    k.fail[(c.RTM_NEWADDR, "")] = 13
    msg = err_msg(run_plugin(P, "ADD", conf(ipam=L3, dad="skip")))
    assert msg.startswith("failed to add IP addr") and msg.endswith(': permission denied')
    assert k.names("/cont") == ["lo"] and k.ipam_calls == ["ADD static", "DEL static"]


# --- DEL -------------------------------------------------------------------------------------------------------


def test_del_releases_ip_then_deletes_link_and_is_idempotent(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(ipam=L3, dad="skip")))
    ok(run_plugin(P, "DEL", conf(ipam=L3)))
    assert k.names("/cont") == ["lo"]
    ok(run_plugin(P, "DEL", conf(ipam=L3)))
    assert k.ipam_calls == ["ADD static", "DEL static", "DEL static"]


def test_del_with_netns_gone_still_releases_ip(k: FakeKernel) -> None:
    ok(run_plugin(P, "DEL", conf(ipam=L3), netns="/gone"))
    ok(run_plugin(P, "DEL", conf(ipam=L3), netns=""))
    assert k.ipam_calls == ["DEL static", "DEL static"]


def test_del_does_not_need_master(k: FakeKernel) -> None:
    ok(run_plugin(P, "DEL", conf(master="vanished0")))
    assert err_msg(run_plugin(P, "DEL", conf(mtu="x"))) == \
        "failed to load netConf: json: cannot unmarshal string into Go struct field NetConf.mtu of type int"


# --- CHECK -----------------------------------------------------------------------------------------------------


def added(k: FakeKernel, **kw: object) -> dict:
    cfg = conf(ipam=L3, dad="skip", **kw)
    res = ok(run_plugin(P, "ADD", cfg))
    return conf(ipam=L3, dad="skip", prevResult=res, **kw)


def test_check_passes_then_fails_on_mode_mac_address_route(k: FakeKernel) -> None:
    cfg = added(k, mode="private")
    ok(run_plugin(P, "CHECK", cfg))
    assert k.ipam_calls[-1] == "CHECK static"
    assert err_msg(run_plugin(P, "CHECK", dict(cfg, mode="vepa"))) == \
        "container macvlan mode private does not match expected value: vepa"
    bad = dict(cfg, prevResult=dict(cfg["prevResult"], interfaces=[dict(cfg["prevResult"]["interfaces"][0],
                                                                         mac="0a:00:00:00:00:99")]))
    mac = k.link("/cont", "eth0").address
    assert err_msg(run_plugin(P, "CHECK", bad)) == f"interface eth0 Mac 0a:00:00:00:00:99 doesn't match container Mac: {mac}"
    k.ns["/cont"].routes = [r for r in k.ns["/cont"].routes if r.dst != "198.51.100.0"]
    assert "198.51.100.0/24" in err_msg(run_plugin(P, "CHECK", cfg))
    k.ns["/cont"].addrs.clear()
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "Failed to match addr 192.0.2.100/24 on interface eth0"


def test_check_errors(k: FakeKernel) -> None:
    cfg = added(k)
    assert err_msg(run_plugin(P, "CHECK", conf(ipam=L3))) == "required prevResult missing"
    assert err_msg(run_plugin(P, "CHECK", cfg, ifname="eth9")) == \
        "sandbox in prevResult  doesn't match configured netns: /cont"
    k.link("/cont", "eth0").kind, k.link("/cont", "eth0").data = "ipvlan", {}
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "error: Container interface eth0 not of type macvlan"
    del k.ns["/cont"].links[k.link("/cont", "eth0").index]
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "container Interface name in prevResult: eth0 not found"


def test_check_needs_master(k: FakeKernel) -> None:
    cfg = added(k)
    del k.ns[HOST].links[k.link(HOST, "up0").index]
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "Link not found"  # loadConf's MTU lookup, raw


def test_status_and_gc_forward_to_ipam(k: FakeKernel) -> None:
    c11 = conf(cniVersion="1.1.0", ipam=L3)
    ok(run_plugin(P, "STATUS", c11))
    ok(run_plugin(P, "GC", c11))
    ok(run_plugin(P, "STATUS", conf(cniVersion="1.1.0")))
    assert k.ipam_calls == ["STATUS static", "GC static"]
