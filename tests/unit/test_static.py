"""The static IPAM plugin through skel.run, without root: upstream's static_test.go catalog S1-S14
for every spec version (ipam-inventory 9.1), CHECK, DEL, GC and STATUS."""

from __future__ import annotations

import json

import pytest

from pycni import skel
from pycni.plugins.ipam import static
from pycni.spec import gojson
from pycni.spec import result as R

VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LEGACY = ("0.1.0", "0.2.0")
VERFIELD = ("0.3.0", "0.3.1", "0.4.0")
DNS = {"nameservers": ["8.8.8.8"], "domain": "example.com", "search": ["example.com"]}
S1_IPAM = {
    "type": "static",
    "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
                  {"address": "3ffe:ffff:0:01ff::1/64", "gateway": "3ffe:ffff:0::1"}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:01ff::1/64"}],
    "dns": DNS,
}
S1_ROUTES = [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:1ff::1/64"}]
S6_ROUTES_IN = [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "3ffe:ffff:0:01ff::1/64", "gw": "3ffe:ffff:0::1"}]
S6_ROUTES = [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "3ffe:ffff:0:1ff::1/64", "gw": "3ffe:ffff::1"}]


def netconf(version: str, ipam: dict | None = None, **extra: object) -> dict:
    c: dict = {"cniVersion": version, "name": "mynet", "type": "ipvlan", "master": "foo0"}
    if ipam is not None:
        c["ipam"] = ipam
    c.update(extra)
    return c


def run(conf: dict | bytes, command: str = "ADD", args: str = "", ifname: str = "eth0") -> skel.Outcome:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "dummy", "CNI_NETNS": "/some/where", "CNI_IFNAME": ifname,
           "CNI_PATH": "/opt/cni/bin", "CNI_ARGS": args}
    stdin = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
    return skel.run(static.PLUGIN, env, stdin)


def add(conf: dict, args: str = "") -> tuple[dict, str]:
    """ADD, then (as upstream's tests do) parse the printed result in the config's version and
    convert it to 1.1.0. Returns (result, raw text)."""
    o = run(conf, "ADD", args)
    assert o.error is None, o.error and o.error.to_json()
    raw = o.stdout()
    version = conf.get("cniVersion", "")
    parsed = R.parse(gojson.loads(raw), version)
    assert parsed["cniVersion"] == (version or "0.1.0")
    return R.convert(parsed, "1.1.0"), raw


def fails(conf: dict | bytes, message: str, command: str = "ADD", args: str = "", code: int = 999) -> None:
    o = run(conf, command, args)
    assert o.error is not None, o.stdout()
    assert (o.error.code, o.error.msg) == (code, message)
    assert o.exit_code == 1


def assert_version_field(raw: str, version: str) -> None:
    if version in VERFIELD:
        assert '"version":' in raw


@pytest.mark.parametrize("v", VERSIONS)
def test_s1_allocates_and_releases_addresses(v: str) -> None:
    r, raw = add(netconf(v, S1_IPAM))
    assert_version_field(raw, v)
    assert r["ips"] == [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
                        {"address": "3ffe:ffff:0:1ff::1/64", "gateway": "3ffe:ffff::1"}]
    assert r["routes"] == S1_ROUTES  # in order, no gw where none was given
    assert r["dns"] == DNS
    assert run(netconf(v, S1_IPAM), "DEL").error is None


@pytest.mark.parametrize("v", VERSIONS)
def test_s2_keeps_multiple_gateways_for_the_same_destination_in_order(v: str) -> None:
    ecmp = [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.253"}]
    conf = netconf(v, {"type": "static", "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}],
                       "routes": ecmp})
    r, _ = add(conf)
    assert r["routes"] == ecmp
    assert run(conf, "DEL").error is None


@pytest.mark.parametrize("v", VERSIONS)
def test_s3_del_of_an_unknown_container_succeeds(v: str) -> None:
    o = run(netconf(v, S1_IPAM), "DEL")
    assert o.error is None and o.stdout() == ""


@pytest.mark.parametrize("v", VERSIONS)
def test_s4_address_and_gateway_from_cni_args(v: str) -> None:
    conf = netconf(v, {"type": "static", "routes": S1_IPAM["routes"][:2], "dns": DNS})
    r, raw = add(conf, "IP=10.10.0.1/24;GATEWAY=10.10.0.254")
    assert_version_field(raw, v)
    assert r["ips"] == [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}]
    assert r["routes"] == S1_ROUTES[:2]
    assert run(conf, "DEL", "IP=10.10.0.1/24;GATEWAY=10.10.0.254").error is None


@pytest.mark.parametrize("v", VERSIONS)
def test_s5_two_addresses_from_cni_args(v: str) -> None:
    conf = netconf(v, {"type": "static"})
    args = "IP=10.10.0.1/24,11.11.0.1/24;GATEWAY=10.10.0.254"
    if v in LEGACY:
        fails(conf, f"CNI version {v} does not support more than 1 address per family", args=args)
        return
    r, _ = add(conf, args)
    assert r["ips"] == [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}, {"address": "11.11.0.1/24"}]
    assert run(conf, "DEL", args).error is None


@pytest.mark.parametrize("v", VERSIONS)
def test_s6_addresses_from_capitalised_runtime_config(v: str) -> None:
    conf = netconf(v, {"type": "static", "routes": S6_ROUTES_IN, "dns": DNS}, capabilities={"ips": True},
                   RuntimeConfig={"ips": ["10.10.0.1/24", "3ffe:ffff:0:01ff::1/64"]})
    r, _ = add(conf)
    assert r["ips"] == [{"address": "10.10.0.1/24"}, {"address": "3ffe:ffff:0:1ff::1/64"}]
    assert r["routes"] == S6_ROUTES


@pytest.mark.parametrize("v", VERSIONS)
def test_s7_addresses_from_args_cni_ips(v: str) -> None:
    conf = netconf(v, {"type": "static", "routes": S6_ROUTES_IN, "dns": DNS},
                   args={"cni": {"ips": ["10.10.0.1/24", "3ffe:ffff:0:01ff::1/64"]}})
    r, _ = add(conf)
    assert r["ips"] == [{"address": "10.10.0.1/24"}, {"address": "3ffe:ffff:0:1ff::1/64"}]
    assert r["routes"] == S6_ROUTES


@pytest.mark.parametrize("v", VERSIONS)
def test_s8_runtime_config_beats_args_beats_cni_args(v: str) -> None:
    conf = netconf(v, {"type": "static", "routes": S6_ROUTES_IN, "dns": DNS}, capabilities={"ips": True},
                   RuntimeConfig={"ips": ["10.10.0.1/24", "3ffe:ffff:0:01ff::1/64"]},
                   args={"cni": {"ips": ["10.10.0.2/24", "3ffe:ffff:0:01ff::2/64"]}})
    # two IPv4 addresses in CNI_ARGS are no error even for 0.1.0: they are replaced before the count
    r, _ = add(conf, "IP=10.10.0.3/24,11.11.0.3/24;GATEWAY=10.10.0.254")
    assert r["ips"] == [{"address": "10.10.0.1/24"}, {"address": "3ffe:ffff:0:1ff::1/64"}]
    assert r["routes"] == S6_ROUTES


@pytest.mark.parametrize("v", VERSIONS)
def test_s9_missing_ipam_with_cni_args(v: str) -> None:
    fails(netconf(v), "IPAM config missing 'ipam' key", args="IP=10.10.0.1/24;GATEWAY=10.10.0.254")


@pytest.mark.parametrize("v", VERSIONS)
def test_s10_missing_ipam_with_runtime_config(v: str) -> None:
    fails(netconf(v, runtimeConfig={"ips": ["10.10.0.1/24"]}), "IPAM config missing 'ipam' key")


@pytest.mark.parametrize("v", VERSIONS)
def test_s11_address_without_prefix(v: str) -> None:
    fails(netconf(v, {"type": "static", "addresses": [{"address": "10.10.0.1"}]}),
          "the 'address' field is expected to be in CIDR notation, got: '10.10.0.1'")


@pytest.mark.parametrize("v", VERSIONS)
def test_s12_cni_args_ip_without_prefix(v: str) -> None:
    fails(netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}),
          "the 'ip' field is expected to be in CIDR notation, got: '10.10.0.1'", args="IP=10.10.0.1")


@pytest.mark.parametrize("v", VERSIONS)
def test_s13_args_cni_ips_without_prefix(v: str) -> None:
    fails(netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}, args={"cni": {"ips": ["10.10.0.1"]}}),
          "an entry in the 'ips' field is NOT in CIDR notation, got: '10.10.0.1'")


@pytest.mark.parametrize("v", VERSIONS)
def test_s14_runtime_config_ips_without_prefix(v: str) -> None:
    fails(netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}, RuntimeConfig={"ips": ["10.10.0.1"]}),
          "an entry in the 'ips' field is NOT in CIDR notation, got: '10.10.0.1'")


# --- LoadIPAMConfig details --------------------------------------------------------------------


def test_cni_args_addresses_are_appended_after_config_addresses_and_gateway_skips_config_ones() -> None:
    conf = netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.10.0.1/24"}]})
    r, _ = add(conf, "IP=10.10.0.2/24;GATEWAY=10.10.0.254")
    assert r["ips"] == [{"address": "10.10.0.1/24"}, {"address": "10.10.0.2/24", "gateway": "10.10.0.254"}]


def test_a_later_cni_args_gateway_overwrites_and_one_outside_every_subnet_is_ignored() -> None:
    r, _ = add(netconf("1.0.0", {"type": "static"}), "IP=10.0.0.2/24;GATEWAY=10.0.0.1,192.168.0.1,10.0.0.3")
    assert r["ips"] == [{"address": "10.0.0.2/24", "gateway": "10.0.0.3"}]


@pytest.mark.parametrize(
    "args, message",
    [
        ("IP=10.0.0.2/24;GATEWAY= foo", "invalid gateway address:  foo"),  # the untrimmed item
        ("IP=10.0.0.2/24,,", "the 'ip' field is expected to be in CIDR notation, got: ''"),
        ("IP= 10.0.0.2", "the 'ip' field is expected to be in CIDR notation, got: '10.0.0.2'"),  # trimmed
        ("FOO=bar", 'ARGS: unknown args ["FOO=bar"]'),
        ("IP=10.0.0.2/24;", 'ARGS: invalid pair ""'),
    ],
)
def test_cni_args_errors(args: str, message: str) -> None:
    fails(netconf("1.0.0", {"type": "static"}), message, args=args)


def test_an_empty_cni_version_counts_as_0_1_0_for_the_address_count() -> None:
    conf = {"name": "mynet", "cniVersion": "", "ipam": {"type": "static", "addresses": [
        {"address": "10.0.0.1/24"}, {"address": "10.0.0.2/24"}]}}
    fails(conf, "CNI version  does not support more than 1 address per family")


def test_host_bits_and_go_text_are_kept() -> None:
    r, _ = add(netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.10.0.1/0"},
                                                                 {"address": "::ffff:10.1.1.1/120"}]}))
    assert r["ips"] == [{"address": "10.10.0.1/0"}, {"address": "10.1.1.1/24"}]


def test_a_null_address_is_an_empty_cidr() -> None:
    fails(netconf("1.0.0", {"type": "static", "addresses": [None]}),
          "the 'address' field is expected to be in CIDR notation, got: ''")


def test_a_null_route_is_dropped() -> None:  # deliberate: upstream emits null (and panics for 0.2.0)
    for v in VERSIONS:
        r, _ = add(netconf(v, {"type": "static", "addresses": [{"address": "10.0.0.1/24"}],
                               "routes": [None, {"dst": "0.0.0.0/0"}]}))
        assert r["routes"] == [{"dst": "0.0.0.0/0"}]


def test_the_untagged_go_address_field_is_used_as_it_is() -> None:
    conf = netconf("1.0.0", {"type": "static", "addresses": [
        {"address": "10.0.0.1/24", "Address": {"IP": "10.0.0.5", "Mask": "////AA=="}}]})
    r, _ = add(conf)
    assert r["ips"] == [{"address": "10.0.0.5/24"}]
    fails(netconf("1.0.0", {"type": "static", "addresses": [{"Address": "x"}]}),
          "json: cannot unmarshal string into Go struct field Address.ipam.addresses.Address of type net.IPNet")


@pytest.mark.parametrize("v, version_field", [("0.4.0", "4"), ("0.2.0", None)])
def test_an_address_go_prints_as_nil_keeps_its_family(v: str, version_field: str | None) -> None:
    o = run(netconf(v, {"type": "static", "addresses": [{"Address": {"IP": "10.0.0.5"}}]}))
    obj = json.loads(o.stdout())
    if version_field:
        assert obj["ips"] == [{"version": "4", "address": "<nil>"}]
    else:
        assert obj["ip4"] == {"ip": "<nil>"}


def test_route_fields_added_after_1_1_1_are_kept() -> None:
    conf = netconf("1.1.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24"}], "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.0.0.254", "mtu": 1300, "advmss": 1200, "priority": 5, "table": 0, "scope": 0}]})
    r, _ = add(conf)
    assert r["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.0.0.254", "mtu": 1300, "advmss": 1200, "priority": 5,
                            "table": 0, "scope": 0}]


def test_zero_addresses_are_fine_from_0_3_0_but_not_for_legacy_versions() -> None:
    for v in VERSIONS:
        conf = netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]})
        if v in LEGACY:
            fails(conf, "cannot convert: no valid IP addresses")
        else:
            r, _ = add(conf)
            assert "ips" not in r


@pytest.mark.parametrize("v", VERSIONS)
def test_output_is_in_the_config_version_with_go_layout(v: str) -> None:
    o = run(netconf(v, S1_IPAM))
    text = o.stdout()
    assert not text.endswith("\n") and text.startswith('{\n    "cniVersion": "%s"' % v)
    obj = json.loads(text)
    if v in ("1.0.0", "1.1.0"):
        assert list(obj) == sorted(obj)
    else:
        assert list(obj)[-1] == "dns"


# --- CHECK, DEL, GC, STATUS --------------------------------------------------------------------


def prev(version: str, ips: list[dict]) -> dict:
    if version in VERFIELD:
        ips = [{"version": "6" if ":" in i["address"] else "4", **i} for i in ips]
    return {"cniVersion": version, "ips": ips}


GOOD_IPS = [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
            {"address": "3ffe:ffff:0:1ff::1/64", "gateway": "3ffe:ffff::1"}]


@pytest.mark.parametrize("v", ["0.4.0", "1.0.0", "1.1.0"])
def test_check_passes_when_prev_result_holds_the_addresses(v: str) -> None:
    o = run(netconf(v, S1_IPAM, prevResult=prev(v, GOOD_IPS)), "CHECK")
    assert o.error is None and o.stdout() == ""


@pytest.mark.parametrize("v", ["0.4.0", "1.0.0", "1.1.0"])
def test_check_fails_on_a_gateway_mismatch(v: str) -> None:
    ips = [{"address": "10.10.0.1/24", "gateway": "10.10.0.253"}]
    fails(netconf(v, S1_IPAM, prevResult=prev(v, ips)), "static: Failed to match addr 10.10.0.1 on interface eth0",
          command="CHECK")


def test_check_reports_the_interface_name() -> None:
    o = run(netconf("1.0.0", S1_IPAM, prevResult=prev("1.0.0", [{"address": "3ffe:ffff:0:1ff::1/64"}])), "CHECK",
            ifname="net1")
    assert o.error is not None and o.error.msg == "static: Failed to match addr 3ffe:ffff:0:1ff::1 on interface net1"


def test_check_ignores_missing_addresses_and_prefix_differences() -> None:
    ips = [{"address": "10.10.0.1/16", "gateway": "10.10.0.254"}]
    assert run(netconf("1.0.0", S1_IPAM, prevResult=prev("1.0.0", ips)), "CHECK").error is None


def test_check_uses_the_first_prev_result_entry_for_an_address() -> None:
    ips = [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}, {"address": "10.10.0.1/24", "gateway": "1.1.1.1"}]
    assert run(netconf("1.0.0", S1_IPAM, prevResult=prev("1.0.0", ips)), "CHECK").error is None
    fails(netconf("1.0.0", S1_IPAM, prevResult=prev("1.0.0", ips[::-1])),
          "static: Failed to match addr 10.10.0.1 on interface eth0", command="CHECK")


def test_check_without_prev_result() -> None:
    fails(netconf("1.0.0", S1_IPAM), "Required prevResult missing", command="CHECK")
    fails(netconf("1.0.0", S1_IPAM, prevResult=None), "Required prevResult missing", command="CHECK")


def test_check_with_prev_result_of_another_family_e01() -> None:
    fails(netconf("1.0.0", S1_IPAM, prevResult=prev("0.3.1", GOOD_IPS)),
          'could not parse prevResult: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.3.1"',
          command="CHECK")


def test_check_config_errors_come_before_prev_result_errors() -> None:
    fails(netconf("1.0.0", {"type": "static", "addresses": [{"address": "x"}]}),
          "the 'address' field is expected to be in CIDR notation, got: 'x'", command="CHECK")


def test_check_decodes_the_config_as_netconf() -> None:
    fails(netconf("1.0.0", S1_IPAM, capabilities={"ips": "yes"}, prevResult=prev("1.0.0", GOOD_IPS)),
          "failed to load netconf: json: cannot unmarshal string into Go struct field PluginConf.capabilities of "
          "type bool", command="CHECK")


def test_check_is_refused_before_0_4_0() -> None:
    fails(netconf("0.3.1", S1_IPAM, prevResult=prev("0.3.1", GOOD_IPS)), "config version does not allow CHECK",
          command="CHECK", code=1)


@pytest.mark.parametrize("conf", [netconf("1.0.0"), netconf("1.0.0", "x"), netconf("0.1.0", {"addresses": "x"})])  # type: ignore[arg-type]
def test_del_succeeds_without_reading_ipam(conf: dict) -> None:
    o = run(conf, "DEL")
    assert o.error is None and o.stdout() == ""


@pytest.mark.parametrize("command", ["GC", "STATUS"])
def test_gc_and_status_succeed_at_1_1_0(command: str) -> None:
    o = run(netconf("1.1.0", S1_IPAM, **{"cni.dev/valid-attachments": []}), command)
    assert o.error is None and o.stdout() == ""


@pytest.mark.parametrize("command", ["GC", "STATUS"])
def test_gc_and_status_are_refused_at_1_0_0(command: str) -> None:
    fails(netconf("1.0.0", S1_IPAM), f"config version does not allow {command}", command=command, code=1)


def test_version_lists_every_spec_version() -> None:
    o = skel.run(static.PLUGIN, {"CNI_COMMAND": "VERSION"}, b"")
    assert json.loads(o.stdout())["supportedVersions"] == list(VERSIONS)
