"""bridge plugin logic without a kernel: config decoding (Go's rules), defaults, validation errors, the MAC
precedence, gateway computation, prevResult IPs for DEL, and errors raised before any kernel call."""

from __future__ import annotations

import json

import pytest

from pycni import skel
from pycni.plugins.main import bridge as B
from pycni.plugins.main.bridge import config, gateways
from pycni.plugins.main.bridge import delete as bridge_delete

BASE = {"cniVersion": "1.0.0", "name": "net1", "type": "bridge"}


def conf(**kw):
    return dict(BASE, **kw)


# --- decoding ----------------------------------------------------------------------------------------------------


def test_defaults() -> None:
    c = config.load_netconf(conf(), "")
    assert c["bridge"] == "cni0"
    assert c["_mac"] == "" and c["_vlans"] is None
    for key in ("isGateway", "isDefaultGateway", "forceAddress", "ipMasq", "hairpinMode", "promiscMode",
                "macspoofchk", "enabledad", "disableContainerInterface", "portIsolation", "mtu", "vlan"):
        assert not c.get(key)


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored() -> None:
    c = config.load_netconf(conf(BRIDGE="br9", HairpinMode=True, isgateway=True, MTU=1400, whatever={"x": 1}), "")
    assert (c["bridge"], c["hairpinMode"], c["isGateway"], c["mtu"]) == ("br9", True, True, 1400)


def test_exact_key_beats_folded_key() -> None:
    assert config.load_netconf(json.loads('{"name":"n","Bridge":"a","bridge":"b"}'), "")["bridge"] == "b"


def test_empty_bridge_name_is_kept_as_go_does() -> None:
    assert config.load_netconf(conf(bridge=""), "")["bridge"] == ""


@pytest.mark.parametrize("key, value, gotype", [
    ("mtu", "1400", "int"),
    ("isGateway", "yes", "bool"),
    ("bridge", 5, "string"),
    ("vlan", 1.5, "int"),
])
def test_type_mismatch_texts(key: str, value: object, gotype: str) -> None:
    with pytest.raises(ValueError) as ei:
        config.load_netconf(conf(**{key: value}), "")
    kind = {str: "string", float: "number 1.5", int: "number"}[type(value)]
    assert str(ei.value) == (f"failed to load netconf: json: cannot unmarshal {kind} into Go struct field "
                             f"NetConf.{key} of type {gotype}")


def test_nested_type_mismatch_path() -> None:
    with pytest.raises(ValueError) as ei:
        config.load_netconf(conf(vlanTrunk=[{"minID": "1"}]), "")
    # Go names the innermost struct type and the whole field path; an anonymous struct has no name
    assert str(ei.value) == ("failed to load netconf: json: cannot unmarshal string into Go struct field "
                             "VlanTrunk.vlanTrunk.minID of type int")
    with pytest.raises(ValueError) as ei:
        config.load_netconf(conf(runtimeConfig={"mac": 1}), "")
    assert str(ei.value).endswith("Go struct field .runtimeConfig.mac of type string")
    with pytest.raises(ValueError) as ei:
        config.load_netconf(conf(args={"cni": {"mac": 1}}), "")
    assert str(ei.value).endswith("Go struct field BridgeArgs.args.cni.mac of type string")


@pytest.mark.parametrize("vlan", [-1, 4095, 10000])
def test_vlan_range(vlan: int) -> None:
    with pytest.raises(ValueError, match=rf"^invalid VLAN ID {vlan} \(must be between 0 and 4094\)$"):
        config.load_netconf(conf(vlan=vlan), "")


def test_vlan_bounds_accepted() -> None:
    assert config.load_netconf(conf(vlan=4094), "")["vlan"] == 4094
    assert config.load_netconf(conf(vlan=0), "").get("vlan") == 0


@pytest.mark.parametrize("trunk, msg", [
    ([{"minID": 0, "maxID": 5}], "incorrect trunk minID parameter"),
    ([{"minID": 4095, "maxID": 4095}], "incorrect trunk minID parameter"),
    ([{"minID": 1, "maxID": 4095}], "incorrect trunk maxID parameter"),
    ([{"minID": 1, "maxID": 0}], "incorrect trunk maxID parameter"),
    ([{"minID": 9, "maxID": 5}], "minID is greater than maxID in trunk parameter"),
    ([{"maxID": 5}], "minID and maxID should be configured simultaneously, minID is missing"),
    ([{"minID": 5}], "minID and maxID should be configured simultaneously, maxID is missing"),
    ([{"id": 0}], "incorrect trunk id parameter"),
    ([{"id": 4095}], "incorrect trunk id parameter"),
    ([{"minID": 1, "maxID": 2, "id": -3}], "incorrect trunk id parameter"),
])
def test_vlan_trunk_errors(trunk: list, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        config.load_netconf(conf(vlanTrunk=trunk), "")
    assert str(ei.value) == msg


def test_vlan_trunk_collected_sorted_unique() -> None:
    c = config.load_netconf(conf(vlanTrunk=[{"id": 200}, {"minID": 100, "maxID": 102}, {"id": 101}, {"minID": None,
                                                                                               "maxID": None}]), "")
    assert c["_vlans"] == [100, 101, 102, 200]


def test_empty_vlan_trunk_still_asks_for_vlan_filtering_like_go() -> None:
    # Go: `VlanTrunk != nil` -> an empty list turns vlan_filtering on, a null does not
    assert "vlanTrunk" in config.load_netconf(conf(vlanTrunk=[]), "")
    assert config.load_netconf(conf(vlanTrunk=[]), "")["_vlans"] is None
    assert "vlanTrunk" not in config.load_netconf(conf(vlanTrunk=None), "")


# --- MAC sources ---------------------------------------------------------------------------------------------------


def test_mac_precedence_runtime_over_args_over_cni_args() -> None:
    args = "IgnoreUnknown=1;MAC=0a:00:00:00:00:03"
    assert config.load_netconf(conf(), args)["_mac"] == "0a:00:00:00:00:03"
    c2 = conf(args={"cni": {"mac": "0a:00:00:00:00:02"}})
    assert config.load_netconf(c2, args)["_mac"] == "0a:00:00:00:00:02"
    c1 = dict(c2, runtimeConfig={"mac": "0a:00:00:00:00:01"})
    assert config.load_netconf(c1, args)["_mac"] == "0a:00:00:00:00:01"
    # empty values do not override
    assert config.load_netconf(conf(args={"cni": {"mac": ""}}, runtimeConfig={"mac": ""}), args)["_mac"] == (
        "0a:00:00:00:00:03")


def test_cni_args_errors() -> None:
    with pytest.raises(ValueError, match=r'^ARGS: unknown args \["mac=0a:00:00:00:00:01"\]$'):
        config.load_netconf(conf(), "mac=0a:00:00:00:00:01")
    with pytest.raises(ValueError, match=r'^ARGS: invalid pair "MAC"$'):
        config.load_netconf(conf(), "MAC")
    assert config.load_netconf(conf(), "IgnoreUnknown=true;K8S_POD_NAME=x")["_mac"] == ""


# --- gateways ------------------------------------------------------------------------------------------------------


def test_calc_gateway_ip() -> None:
    assert gateways.calc_gateway_ip("10.88.7.42/24") == "10.88.7.1"
    assert gateways.calc_gateway_ip("10.88.7.42/16") == "10.88.0.1"
    assert gateways.calc_gateway_ip("fd00:88:7::abcd/64") == "fd00:88:7::1"
    assert gateways.calc_gateway_ip("192.168.1.7/32") == "192.168.1.8"


def _res(*ips: dict, routes: list | None = None) -> dict:
    r: dict = {"cniVersion": "1.1.0", "ips": [dict(i) for i in ips]}
    if routes is not None:
        r["routes"] = [dict(x) for x in routes]
    return r


def test_calc_gateways_default_gateway_dual_stack() -> None:
    r = _res({"address": "10.1.0.5/24"}, {"address": "fd00::5/64"})
    v4, v6 = gateways.calc_gateways(r, True, True)
    assert (v4, v6) == (["10.1.0.1/24"], ["fd00::1/64"])
    assert r["ips"] == [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2},
                        {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 2}]
    assert r["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}, {"dst": "::/0", "gw": "fd00::1"}]


def test_calc_gateways_keeps_ipam_gateway_and_adds_no_routes_without_default_gw() -> None:
    r = _res({"address": "10.1.0.5/24", "gateway": "10.1.0.100"}, {"address": "10.2.0.5/24"})
    v4, v6 = gateways.calc_gateways(r, True, False)
    assert v4 == ["10.1.0.100/24", "10.2.0.1/24"] and v6 == []
    assert "routes" not in r


def test_calc_gateways_not_gateway() -> None:
    r = _res({"address": "10.1.0.5/24"})
    assert gateways.calc_gateways(r, False, False) == ([], [])
    assert r["ips"] == [{"address": "10.1.0.5/24", "interface": 2}]


def test_calc_gateways_existing_default_route_with_gw_suppresses_the_added_one() -> None:
    routes = [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.1.0.254"},
              {"dst": "::/0", "gw": "fd00::1"}, {"dst": "::/0", "gw": "fd00::fe"}]
    r = _res({"address": "10.1.0.5/24"}, {"address": "fd00::5/64"}, routes=routes)
    gateways.calc_gateways(r, True, True)
    assert r["routes"] == routes  # ECMP routes from static stay as they are


def test_calc_gateways_default_route_without_gw_does_not_count() -> None:
    r = _res({"address": "10.1.0.5/24"}, routes=[{"dst": "0.0.0.0/0"}, {"dst": "0.0.0.0/00"}])
    gateways.calc_gateways(r, True, True)
    assert r["routes"][-1] == {"dst": "0.0.0.0/0", "gw": "10.1.0.1"} and len(r["routes"]) == 3


def test_calc_gateways_only_one_default_route_per_family() -> None:
    r = _res({"address": "10.1.0.5/24"}, {"address": "10.2.0.5/24"})
    gateways.calc_gateways(r, True, True)
    assert r["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}]


def test_calc_gateways_default_route_matched_as_network() -> None:
    # Go compares the route's IPNet text: "0.0.0.0/0" also for a dst written with host bits
    r = _res({"address": "10.1.0.5/24"}, routes=[{"dst": "1.2.3.4/0", "gw": "10.1.0.9"}])
    gateways.calc_gateways(r, True, True)
    assert len(r["routes"]) == 1


# --- DEL helpers ---------------------------------------------------------------------------------------------------


def test_prev_ips_for_masquerade_teardown() -> None:
    prev = {"cniVersion": "1.0.0",
            "interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/x"}],
            "ips": [{"interface": 2, "address": "10.1.0.5/24"}, {"interface": 0, "address": "10.9.0.1/24"},
                    {"address": "fd00::5/64"}]}
    assert bridge_delete.prev_ips(conf(prevResult=prev), "eth0") == ["10.1.0.5/24", "fd00::5/64"]
    assert bridge_delete.prev_ips(conf(), "eth0") == []
    assert bridge_delete.prev_ips(conf(prevResult={"cniVersion": "1.0.0", "ips": "bad"}), "eth0") == []


def test_dns_override_rule() -> None:
    assert not config.dns_set(None) and not config.dns_set({})
    assert config.dns_set({"nameservers": []})  # Go: a non-nil empty slice counts
    assert not config.dns_set({"domain": ""})
    assert config.dns_set({"domain": "x"})


# --- through the dispatcher (no kernel is touched before these errors) ---------------------------------------------


def run(cmd: str, c: dict, **env: str) -> skel.Outcome:
    e = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid", "CNI_NETNS": "/nonexistent/netns", "CNI_IFNAME": "eth0",
         "CNI_PATH": "/nonexistent"}
    e.update(env)
    return skel.run(B.PLUGIN, e, json.dumps(c).encode())


@pytest.mark.parametrize("c, msg", [
    (conf(hairpinMode=True, promiscMode=True), "cannot set hairpin mode and promiscuous mode at the same time"),
    (conf(disableContainerInterface=True, ipam={"type": "static"}),
     "cannot use IPAM when DisableContainerInterface flag is set"),
    (conf(vlan=5000), "invalid VLAN ID 5000 (must be between 0 and 4094)"),
    (conf(mtu=True),
     "failed to load netconf: json: cannot unmarshal bool into Go struct field NetConf.mtu of type int"),
    (conf(args="x"), 'failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.args of '
                     'type struct { Cni main.BridgeArgs "json:\\"cni,omitempty\\"" }'),
])
def test_add_config_errors(c: dict, msg: str) -> None:
    out = run("ADD", c)
    assert out.error is not None and (out.error.code, out.error.msg) == (999, msg)


def test_del_config_errors_too() -> None:
    out = run("DEL", conf(vlanTrunk=[{"id": 0}]))
    assert out.error is not None and out.error.msg == "incorrect trunk id parameter"


def test_check_needs_040() -> None:
    out = run("CHECK", dict(conf(), cniVersion="0.3.1"))
    assert out.error is not None and out.error.msg == "config version does not allow CHECK"


def test_check_missing_netns() -> None:
    out = run("CHECK", conf())
    assert out.error is not None
    assert out.error.msg == 'failed to open netns "/nonexistent/netns": failed to Statfs "/nonexistent/netns": ' \
                            "no such file or directory"


def test_status_and_gc_without_ipam_succeed() -> None:
    c = dict(conf(), cniVersion="1.1.0")
    assert run("STATUS", c).error is None
    assert run("GC", c).error is None


def test_status_ipam_not_found() -> None:
    out = run("STATUS", dict(conf(ipam={"type": "nope"}), cniVersion="1.1.0"))
    assert out.error is not None and out.error.msg == 'failed to find plugin "nope" in path [/nonexistent]'


def test_status_does_not_validate_vlan_like_upstream() -> None:
    assert run("STATUS", dict(conf(vlan=9999), cniVersion="1.1.0")).error is None


def test_registered() -> None:
    from pycni.plugins.registry import PLUGINS

    assert PLUGINS["bridge"] == "pycni.plugins.main.bridge"


def test_module_import_is_lazy() -> None:
    import subprocess
    import sys

    code = ("import sys; import pycni.plugins.main.bridge; "
            "bad = [m for m in ('subprocess', 'json', 'pycni.linux.bridge', 'pycni.netlink.socket') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
