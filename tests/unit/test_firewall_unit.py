"""firewall: config decoding, every error string, exact iptables rules, the verbs over a fake iptables (no root)."""

from __future__ import annotations

import json

import pytest
from fakenetfilter import FakeNetfilter

from pycni.linux import netfilter as nf
from pycni.plugins.meta import firewall
from pycni.plugins.meta.firewall import config as FC
from pycni.plugins.meta.firewall import firewalld
from pycni.plugins.meta.firewall import iptables as FI
from pycni.plugins.meta.firewall import plugin as FP
from pycni.skel import run

PREV = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "br0", "mac": "aa:bb:cc:dd:ee:01"}, {"name": "veth1", "mac": "aa:bb:cc:dd:ee:02"},
                   {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/c"}],
    "ips": [{"interface": 2, "address": "10.88.7.2/24", "gateway": "10.88.7.1"},
            {"interface": 2, "address": "fd00:88:7::2/64", "gateway": "fd00:88:7::1"}],
}
FWD_JUMP = ["-m", "comment", "--comment", "CNI firewall plugin rules", "-j", "CNI-FORWARD"]
ADMIN_JUMP = ["-m", "comment", "--comment", "CNI firewall plugin admin overrides", "-j", "CNI-ADMIN"]
DEF = "CNI firewall plugin rules (ingressPolicy: same-bridge|isolated)"


# Unit tests run as root in CI: never let a real iptables/nft/conntrack call through (conftest.py).
pytestmark = pytest.mark.usefixtures("no_real_netfilter")


@pytest.fixture(autouse=True)
def no_system_bus(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Auto-detection must never reach a real system bus from a unit test."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")


def call(cmd: str, conf: dict) -> tuple[dict | None, str | None]:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": "/run/netns/c", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent"}
    out = run(firewall.PLUGIN, env, json.dumps(conf).encode())
    if out.error is not None:
        return None, f"{out.error.code}: {out.error.msg}"
    return (json.loads(out.stdout()) if out.stdout() else None), None


def full(**kw: object) -> dict:
    c: dict = {"cniVersion": "1.0.0", "name": "net", "type": "firewall", "backend": "iptables", "prevResult": PREV}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


# --- config ------------------------------------------------------------------------------------------


def test_defaults_and_case_insensitive_keys() -> None:
    c, r = FC.parse_conf({"name": "n", "BACKEND": "iptables", "IngressPolicy": "isolated"})
    assert c["firewalldZone"] == "trusted" and c["backend"] == "iptables" and c["ingressPolicy"] == "isolated"
    assert r == {}
    c, r = FC.parse_conf({"name": "n", "firewalldZone": "", "cniVersion": "1.0.0", "prevResult": PREV})
    assert c["firewalldZone"] == "trusted" and r["ips"][1]["address"] == "fd00:88:7::2/64"


@pytest.mark.parametrize(("extra", "msg"), [
    ({"backend": 1}, "failed to load netconf: json: cannot unmarshal number into Go struct field "
                     "FirewallNetConf.backend of type string"),
    ({"ingressPolicy": 3}, "failed to load netconf: json: cannot unmarshal number into Go struct field "
                           "FirewallNetConf.ingressPolicy of type string"),
    ({"iptablesAdminChainName": []}, "failed to load netconf: json: cannot unmarshal array into Go struct field "
                                     "FirewallNetConf.iptablesAdminChainName of type string"),
    ({"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "bad"}]}},
     "could not parse prevResult: could not parse prevResult: invalid CIDR address: bad"),
])
def test_config_errors(extra: dict, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        FC.parse_conf(dict({"name": "n", "cniVersion": "1.0.0"}, **extra))
    assert str(ei.value) == msg


def test_supported_versions_start_at_040(fake: FakeNetfilter) -> None:  # noqa: F811
    assert firewall.PLUGIN.versions == ("0.4.0", "1.0.0", "1.1.0")
    res, e = call("ADD", full(cniVersion="0.3.1"))
    assert e == '1: incompatible CNI versions'


# --- rules ---------------------------------------------------------------------------------------------


def test_per_ip_rules() -> None:
    assert FI.ip_string("10.1.2.3/8") == "10.1.2.3/32" and FI.ip_string("fd00::5/64") == "fd00::5/128"
    assert FI.rules_for(PREV, False) == [
        ["-d", "10.88.7.2/32", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ["-s", "10.88.7.2/32", "-j", "ACCEPT"]]
    assert FI.rules_for(PREV, True)[1] == ["-s", "fd00:88:7::2/128", "-j", "ACCEPT"]
    assert FI.filter_rule("CNI-FORWARD") == FWD_JUMP and FI.admin_rule("CNI-ADMIN") == ADMIN_JUMP


def test_isolation_rules_same_bridge_and_isolated() -> None:
    same = "CNI firewall plugin rules (ingressPolicy: same-bridge)"
    assert FI.isolation_steps("br0", False) == [
        ("FORWARD", True, ["-j", "CNI-ISOLATION-STAGE-1", "-m", "comment", "--comment", DEF]),
        ("CNI-ISOLATION-STAGE-1", True, ["-i", "br0", "!", "-o", "br0", "-j", "CNI-ISOLATION-STAGE-2",
                                         "-m", "comment", "--comment", same]),
        ("CNI-ISOLATION-STAGE-1", False, ["-j", "RETURN", "-m", "comment", "--comment", DEF]),
        ("CNI-ISOLATION-STAGE-2", True, ["-o", "br0", "-j", "DROP", "-m", "comment", "--comment", DEF]),
        ("CNI-ISOLATION-STAGE-2", False, ["-j", "RETURN", "-m", "comment", "--comment", DEF]),
    ]
    iso = FI.isolation_steps("br0", True)
    assert iso[2] == ("CNI-ISOLATION-STAGE-1", True, ["-i", "br0", "-o", "br0", "-j", "DROP", "-m", "comment",
                                                      "--comment", "CNI firewall plugin rules (ingressPolicy: isolated)"])
    assert iso[1][2][-1] == "CNI firewall plugin rules (ingressPolicy: isolated)"


@pytest.mark.parametrize(("policy", "result", "msg"), [
    ("bogus", PREV, 'unknown ingress policy: "bogus"'),
    ("same-bridge", {"ips": PREV["ips"]},
     'interface needs to be set for ingress policy "same-bridge", make sure to chain "firewall" plugin with "bridge"'),
    ("isolated", {"interfaces": [{"name": ""}]}, "got empty bridge name"),
])
def test_policy_validation_errors(policy: str, result: dict, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        FI.policy_bridge(policy, result)
    assert str(ei.value) == msg


def test_policy_bridge_is_first_interface() -> None:
    assert FI.policy_bridge("", PREV) is None and FI.policy_bridge("open", {}) is None
    assert FI.policy_bridge("isolated", PREV) == "br0"


# --- the verbs --------------------------------------------------------------------------------------


def test_add_open_dual_stack(fake: FakeNetfilter) -> None:  # noqa: F811
    fake.ipt.chains(False, "filter")["FORWARD"].append(["-j", "ACCEPT"])
    res, e = call("ADD", full())
    assert e is None and res == json.loads(json.dumps(res)) and res["cniVersion"] == "1.0.0"
    for v6, ip in ((False, "10.88.7.2/32"), (True, "fd00:88:7::2/128")):
        st = fake.ipt.chains(v6, "filter")
        assert st["FORWARD"][0] == FWD_JUMP
        assert st["CNI-FORWARD"] == [ADMIN_JUMP] + FI.priv_chain_rules(ip)
        assert st["CNI-ADMIN"] == []
        assert "CNI-ISOLATION-STAGE-1" not in st
    assert call("ADD", full()) == (res, None)  # idempotent
    assert fake.ipt.chains(False, "filter")["CNI-FORWARD"] == [ADMIN_JUMP] + FI.priv_chain_rules("10.88.7.2/32")
    assert call("CHECK", full()) == (None, None)
    assert call("DEL", full()) == (None, None)
    for v6 in (False, True):
        assert fake.ipt.chains(v6, "filter")["CNI-FORWARD"] == [ADMIN_JUMP]  # chains and jumps stay
    assert call("DEL", full()) == (None, None)
    assert call("DEL", full(prevResult=None)) == (None, None)


def test_add_custom_admin_chain_and_v4_only(fake: FakeNetfilter) -> None:  # noqa: F811
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.1.2/24"}]}
    assert call("ADD", full(prevResult=prev, iptablesAdminChainName="MY-ADMIN"))[1] is None
    st = fake.ipt.chains(False, "filter")
    assert st["CNI-FORWARD"][0] == ADMIN_JUMP[:-1] + ["MY-ADMIN"] and "MY-ADMIN" in st
    assert fake.ipt.tables.get((True, "filter")) is None or "CNI-FORWARD" not in fake.ipt.chains(True, "filter")


def test_add_isolated_rules(fake: FakeNetfilter) -> None:  # noqa: F811
    assert call("ADD", full(ingressPolicy="isolated"))[1] is None
    for v6 in (False, True):
        st = fake.ipt.chains(v6, "filter")
        assert st["FORWARD"][0] == ["-j", "CNI-ISOLATION-STAGE-1", "-m", "comment", "--comment", DEF]
        assert st["FORWARD"][1] == FWD_JUMP
        iso = "CNI firewall plugin rules (ingressPolicy: isolated)"
        assert st["CNI-ISOLATION-STAGE-1"] == [
            ["-i", "br0", "-o", "br0", "-j", "DROP", "-m", "comment", "--comment", iso],
            ["-i", "br0", "!", "-o", "br0", "-j", "CNI-ISOLATION-STAGE-2", "-m", "comment", "--comment", iso],
            ["-j", "RETURN", "-m", "comment", "--comment", DEF]]
        assert st["CNI-ISOLATION-STAGE-2"] == [["-o", "br0", "-j", "DROP", "-m", "comment", "--comment", DEF],
                                               ["-j", "RETURN", "-m", "comment", "--comment", DEF]]
    assert call("DEL", full(ingressPolicy="isolated")) == (None, None)
    assert len(fake.ipt.chains(False, "filter")["CNI-ISOLATION-STAGE-1"]) == 3  # never removed


def test_add_missing_prev_result(fake: FakeNetfilter) -> None:  # noqa: F811
    assert call("ADD", full(prevResult=None)) == (None, "999: missing prevResult from earlier plugin")
    assert call("CHECK", full(prevResult=None)) == (None, "999: missing prevResult from earlier plugin")


def test_bad_policy_touches_nothing(fake: FakeNetfilter) -> None:  # noqa: F811
    assert call("ADD", full(ingressPolicy="bogus")) == (None, '999: unknown ingress policy: "bogus"')
    assert call("ADD", full(ingressPolicy="same-bridge", prevResult={"cniVersion": "1.0.0", "ips": PREV["ips"]}))[1] \
        == ('999: interface needs to be set for ingress policy "same-bridge", make sure to chain "firewall" '
            'plugin with "bridge"')
    assert fake.ipt.calls == []  # upstream would have added (and left) the per-IP rules


def test_policy_failure_removes_the_per_ip_rules(fake: FakeNetfilter) -> None:  # noqa: F811
    fake.ipt.fail_when(lambda p, a: a[2] == "-N" and a[3] == "CNI-ISOLATION-STAGE-1", 4, "iptables: no.\n")
    res, e = call("ADD", full(ingressPolicy="same-bridge"))
    assert e == ("999: running [/usr/sbin/iptables -t filter -N CNI-ISOLATION-STAGE-1 --wait]: exit status 4: "
                 "iptables: no.\n")
    for v6 in (False, True):
        assert fake.ipt.chains(v6, "filter")["CNI-FORWARD"] == [ADMIN_JUMP]


def test_add_error_cleans_its_rules(fake: FakeNetfilter) -> None:  # noqa: F811
    fake.ipt.fail_when(lambda p, a: a[2] == "-A" and a[4] == "-s" and a[5] == "10.88.7.2/32", 4, "iptables: no.\n")
    res, e = call("ADD", full())
    assert e == ("999: running [/usr/sbin/iptables -t filter -A CNI-FORWARD -s 10.88.7.2/32 -j ACCEPT --wait]: "
                 "exit status 4: iptables: no.\n")
    assert fake.ipt.chains(False, "filter")["CNI-FORWARD"] == [ADMIN_JUMP]


def test_del_with_bad_policy_removes_rules_then_fails(fake: FakeNetfilter) -> None:  # noqa: F811
    assert call("ADD", full())[1] is None
    assert call("DEL", full(ingressPolicy="bogus")) == (None, '999: unknown ingress policy: "bogus"')
    assert fake.ipt.chains(False, "filter")["CNI-FORWARD"] == [ADMIN_JUMP]


def test_check_messages_and_no_side_effects(fake: FakeNetfilter) -> None:  # noqa: F811
    msg = "999: expected FORWARD rule [-m comment --comment CNI firewall plugin rules -j CNI-FORWARD] not found"
    assert call("CHECK", full()) == (None, msg)
    assert "CNI-FORWARD" not in fake.ipt.chains(False, "filter")  # upstream would have created the chains
    assert call("ADD", full())[1] is None
    assert call("CHECK", full(iptablesAdminChainName="OTHER")) == (
        None, "999: expected CNI-FORWARD rule [-m comment --comment CNI firewall plugin admin overrides -j OTHER] "
              "not found")
    fake.ipt.chains(True, "filter")["CNI-FORWARD"].pop()
    assert call("CHECK", full()) == (None, "999: expected rule [-s fd00:88:7::2/128 -j ACCEPT] not found")
    fake.ipt.chains(False, "filter")["FORWARD"].clear()
    assert call("CHECK", full()) == (None, msg)
    assert call("CHECK", full(prevResult={"cniVersion": "1.0.0"})) == (None, None)  # no IPs: nothing to check


def test_iptables_init_errors(fake: FakeNetfilter) -> None:  # noqa: F811
    fake.missing.add("ip6tables")
    assert call("ADD", full()) == (None, '999: could not initialize iptables protocol 1: exec: "ip6tables": '
                                         "executable file not found in $PATH")
    assert call("DEL", full())[1].startswith("999: could not initialize iptables protocol 1")
    fake.missing.add("iptables")
    assert call("ADD", full())[1].startswith("999: could not initialize iptables protocol 0: exec: \"iptables\"")


def test_backend_selection(fake: FakeNetfilter, tmp_path: object) -> None:  # noqa: F811
    assert isinstance(FP.get_backend({"backend": "iptables"}), FI.IptablesBackend)
    assert isinstance(FP.get_backend({}), FI.IptablesBackend)  # no bus: iptables
    assert isinstance(FP.get_backend({"backend": "nonsense"}), FI.IptablesBackend)
    with pytest.raises(ValueError) as ei:
        FP.get_backend({"backend": "firewalld"})
    assert str(ei.value) == f"dial unix {tmp_path}/no-bus: connect: no such file or directory"
    res, e = call("ADD", full(backend="firewalld"))
    assert e == f"999: dial unix {tmp_path}/no-bus: connect: no such file or directory"
    assert firewalld.ip_string("fd00::1/64") == "fd00::1/128"
    assert nf.go_list(FWD_JUMP) == "[-m comment --comment CNI firewall plugin rules -j CNI-FORWARD]"
