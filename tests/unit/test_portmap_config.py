"""portmap configuration decoding, defaults, backend choice and every config error (no root, no kernel)."""

from __future__ import annotations

import pytest

from pycni.plugins.meta.portmap import config as C

PREV = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "br0", "mac": "aa:bb:cc:dd:ee:01"}, {"name": "veth1", "mac": "aa:bb:cc:dd:ee:02"},
                   {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/c"}],
    "ips": [{"interface": 2, "address": "10.88.7.2/24", "gateway": "10.88.7.1"},
            {"interface": 2, "address": "fd00:88:7::2/64", "gateway": "fd00:88:7::1"}],
}


# Unit tests run as root in CI: never let a real iptables/nft/conntrack call through (conftest.py).
pytestmark = pytest.mark.usefixtures("no_real_netfilter")


def conf(**kw: object) -> dict:
    c: dict = {"cniVersion": "1.0.0", "name": "pmnet", "type": "portmap", "backend": "iptables"}
    c.update(kw)
    return c


def parse(c: dict, ifname: str = "eth0", probe: str = "iptables") -> tuple[dict, object]:
    return C.parse_config(c, ifname, probe=lambda: probe)


def err(c: dict, probe: str = "iptables") -> str:
    with pytest.raises(ValueError) as ei:
        parse(c, probe=probe)
    return str(ei.value)


def test_defaults() -> None:
    c, prev = parse(conf())
    assert prev is None
    assert c["snat"] is True and c["markMasqBit"] == 13 and c["portMappings"] == []
    assert c["contIPv4"] is None and c["contIPv6"] is None
    assert not c.get("masqAll") and c.get("externalSetMarkChain") is None


def test_keys_match_case_insensitively_and_null_means_unset() -> None:
    c, _ = parse(conf(SNAT=False, MarkMasqBit=5, RUNTIMECONFIG={"PortMappings": [
        {"HOSTPORT": 80, "containerport": 8080, "Protocol": "tcp", "hostip": "1.2.3.4"}]}))
    assert c["snat"] is False and c["markMasqBit"] == 5
    assert c["portMappings"] == [{"hostPort": 80, "containerPort": 8080, "protocol": "tcp", "hostIP": "1.2.3.4"}]
    c, _ = parse(conf(snat=None, markMasqBit=None))
    assert c["snat"] is True and c["markMasqBit"] == 13


def test_missing_entry_fields_take_go_zero_values() -> None:
    c, _ = parse(conf(runtimeConfig={"portMappings": [{"hostPort": 1, "containerPort": 2}]}))
    assert c["portMappings"] == [{"hostPort": 1, "containerPort": 2, "protocol": "", "hostIP": ""}]


@pytest.mark.parametrize(("extra", "msg"), [
    ({"runtimeConfig": {"portMappings": "x"}},
     "json: cannot unmarshal string into Go struct field .runtimeConfig.portMappings of type []main.PortMapEntry"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": "1"}]}},
     "json: cannot unmarshal string into Go struct field PortMapEntry.runtimeConfig.portMappings.hostPort of type int"),
    ({"runtimeConfig": "x"},
     'json: cannot unmarshal string into Go struct field PortMapConf.runtimeConfig of type struct { PortMaps '
     '[]main.PortMapEntry "json:\\"portMappings,omitempty\\"" }'),
    ({"snat": "yes"}, "json: cannot unmarshal string into Go struct field PortMapConf.snat of type bool"),
    ({"conditionsV4": "x"}, "json: cannot unmarshal string into Go struct field PortMapConf.conditionsV4 of type []string"),
    ({"markMasqBit": 1.5}, "json: cannot unmarshal number 1.5 into Go struct field PortMapConf.markMasqBit of type int"),
    ({"backend": 1}, "json: cannot unmarshal number into Go struct field PortMapConf.backend of type string"),
])
def test_decode_errors_are_gos(extra: dict, msg: str) -> None:
    assert err(conf(**extra)) == "failed to parse network configuration: " + msg


@pytest.mark.parametrize(("extra", "msg"), [
    ({"markMasqBit": 32}, "MasqMarkBit must be between 0 and 31"),
    ({"markMasqBit": -1}, "MasqMarkBit must be between 0 and 31"),
    ({"markMasqBit": 3, "externalSetMarkChain": "X"}, "Cannot specify externalSetMarkChain and markMasqBit"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 1}]}}, "Invalid host port number: 0"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 1, "containerPort": -3}]}}, "Invalid container port number: -3"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 0}]}}, "Invalid container port number: 0"),
    ({"backend": "foo"}, 'unrecognized backend "foo"'),
    ({"backend": "foo", "externalSetMarkChain": "X"},
     "foo backend was requested but configuration contains iptables-specific options [externalSetMarkChain]"),
    ({"backend": "iptables", "conditionsV4": ["ip", "saddr", "1.2.3.4"], "conditionsV6": ["meta"]},
     "iptables backend was requested but configuration contains nftables-specific options [conditionsV4 conditionsV6]"),
    ({"backend": "nftables", "externalSetMarkChain": "X", "conditionsV6": ["!", "-s", "::1"]},
     "nftables backend was requested but configuration contains iptables-specific options "
     "[externalSetMarkChain conditionsV6]"),
    ({"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "bad"}]}},
     "could not parse prevResult: could not parse prevResult: invalid CIDR address: bad"),
])
def test_config_errors(extra: dict, msg: str) -> None:
    assert err(conf(**extra)) == msg


def test_zero_mark_bit_is_allowed() -> None:
    assert parse(conf(markMasqBit=0))[0]["markMasqBit"] == 0


def test_backend_defaults_to_the_probe_and_options_pick_a_side() -> None:
    pm = {"portMappings": [{"hostPort": 80, "containerPort": 80, "protocol": "tcp"}]}
    c, _ = parse(conf(backend=None, runtimeConfig=pm), probe="nftables")
    assert c["backend"] == "nftables"
    # nothing to map and no backend-specific option: nothing asks, so no probe runs (upstream probes)
    c, _ = parse(conf(backend=None), probe="never called")
    assert c["backend"] is None
    c, _ = parse(conf(backend=None, conditionsV4=["-s", "1.2.3.4"]), probe="iptables")
    assert c["backend"] == "iptables"
    assert err(conf(backend=None, externalSetMarkChain="X"), probe="nftables") == (
        "nftables backend was requested but configuration contains iptables-specific options [externalSetMarkChain]")
    # an empty list, or an empty first condition, says nothing about the backend
    c, _ = parse(conf(backend="nftables", conditionsV4=[], conditionsV6=["", "-s"]))
    assert c["backend"] == "nftables"


def test_default_backend_prefers_iptables(monkeypatch: pytest.MonkeyPatch) -> None:
    from pycni.linux import netfilter

    monkeypatch.setattr(netfilter, "supports_iptables", lambda: True)
    monkeypatch.setattr(netfilter, "supports_nftables", lambda: True)
    assert C.default_backend() == "iptables"
    monkeypatch.setattr(netfilter, "supports_iptables", lambda: False)
    assert C.default_backend() == "nftables"
    monkeypatch.setattr(netfilter, "supports_nftables", lambda: False)
    assert C.default_backend() == "iptables"


@pytest.mark.parametrize(("conds", "backend"), [
    (None, ""), ([], ""), ([""], ""), (["-s", "1.2.3.4"], "iptables"), (["!", "-d", "1.2.3.4"], "iptables"),
    (["ip", "saddr", "1.2.3.4"], "nftables"), (["meta mark 1"], "nftables"),
])
def test_detect_backend_of_conditions(conds: list | None, backend: str) -> None:
    assert C.detect_backend_of_conditions(conds) == backend


def test_container_ips_first_of_each_family_on_the_sandbox_interface() -> None:
    c, prev = parse(conf(prevResult=PREV))
    assert prev is not None and prev["cniVersion"] == "1.0.0"
    assert (c["contIPv4"], c["contIPv6"]) == ("10.88.7.2/24", "fd00:88:7::2/64")


def test_container_ips_skip_host_side_and_other_interfaces() -> None:
    r = {"interfaces": [{"name": "br0"}, {"name": "eth0", "sandbox": "/x"}, {"name": "eth1", "sandbox": "/x"}],
         "ips": [{"interface": 0, "address": "10.0.0.1/24"},       # host side (no sandbox)
                 {"interface": 2, "address": "10.0.1.2/24"},       # another container interface
                 {"interface": 1, "address": "10.0.2.2/24"},       # ours
                 {"interface": 1, "address": "10.0.3.2/24"},       # ours, but not the first
                 {"interface": 7, "address": "fd00::2/64"},        # index out of range: used
                 {"address": "fd00::3/64"}]}
    assert C.container_ips(r, "eth0") == ("10.0.2.2/24", "fd00::2/64")
    assert C.container_ips({"ips": [{"address": "fd00::9/64"}]}, "eth0") == (None, "fd00::9/64")


def test_older_prev_result_versions_are_converted() -> None:
    prev = {"cniVersion": "0.3.1", "interfaces": [{"name": "eth0", "sandbox": "/x"}],
            "ips": [{"version": "4", "interface": 0, "address": "10.1.2.3/16"}]}
    c, p = parse(conf(cniVersion="0.3.1", prevResult=prev))
    assert c["contIPv4"] == "10.1.2.3/16" and p["cniVersion"] == "0.3.1"


@pytest.mark.parametrize(("host_ip", "v6", "want"), [
    ("", False, (True, False)), ("", True, (True, False)),
    ("192.0.2.2", False, (True, True)), ("192.0.2.2", True, (False, False)),
    ("0.0.0.0", False, (True, False)), ("::", True, (True, False)), ("::", False, (False, False)),
    ("2001:db8::1", True, (True, True)), ("::ffff:192.0.2.2", False, (True, True)),
    ("garbage", True, (True, True)), ("garbage", False, (False, False)),  # Go: nil IP counts as IPv6
])
def test_host_ip_family(host_ip: str, v6: bool, want: tuple) -> None:
    assert C.host_ip_family_ok(host_ip, v6) == want
