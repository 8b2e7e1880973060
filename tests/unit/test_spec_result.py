"""pycni.spec.result: parsing per version family, every conversion pair, and what gets printed
(cni-spec-checklist 1.12-1.15, P-CNV-01..07, E22-E27)."""

from __future__ import annotations

import copy

import pytest

from pycni.spec import gojson
from pycni.spec import result as R

ALL = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
FAMILY = {"0.1.0": "02x", "0.2.0": "02x", "0.3.0": "04x", "0.3.1": "04x", "0.4.0": "04x", "1.0.0": "1.x", "1.1.0": "1.x"}

# E24's result: two IPv4 addresses, one IPv6, an interface with the 1.1.0-only fields, and a route
# with table 0 and mtu 1300.
BASE_110 = {
    "cniVersion": "1.1.0",
    "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "mtu": 1400, "sandbox": "/var/run/netns/x",
                    "socketPath": "/run/sock", "pciID": "0000:00:01.0"}],
    "ips": [{"interface": 0, "address": "10.0.0.2/24", "gateway": "10.0.0.1"},
            {"interface": 0, "address": "10.0.1.2/24"},
            {"interface": 0, "address": "2001:db8::2/64", "gateway": "2001:db8::1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1300, "table": 0},
               {"dst": "::/0", "gw": "2001:db8::1"},
               {"dst": "192.168.0.0/16", "scope": 253}],
    "dns": {"nameservers": ["1.1.1.1"], "domain": "example.com", "search": ["a", "b"], "options": ["ndots:2"]},
}
DNS = BASE_110["dns"]


def as_04x(version: str) -> dict:
    """BASE_110 converted down to 0.3.x/0.4.0: versions added, interface extras dropped, route extras kept."""
    return {
        "cniVersion": version,
        "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/var/run/netns/x"}],
        "ips": [{"version": "4", "interface": 0, "address": "10.0.0.2/24", "gateway": "10.0.0.1"},
                {"version": "4", "interface": 0, "address": "10.0.1.2/24"},
                {"version": "6", "interface": 0, "address": "2001:db8::2/64", "gateway": "2001:db8::1"}],
        "routes": copy.deepcopy(BASE_110["routes"]),
        "dns": DNS,
    }


def as_02x(version: str) -> dict:
    """First v4 -> ip4, first v6 -> ip6, the second v4 dropped, routes by family with dst/gw only."""
    return {
        "cniVersion": version,
        "ip4": {"ip": "10.0.0.2/24", "gateway": "10.0.0.1",
                "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, {"dst": "192.168.0.0/16"}]},
        "ip6": {"ip": "2001:db8::2/64", "gateway": "2001:db8::1", "routes": [{"dst": "::/0", "gw": "2001:db8::1"}]},
        "dns": DNS,
    }


def from_04x_to_100(version: str) -> dict:
    r = as_04x(version)
    for ipc in r["ips"]:
        del ipc["version"]
    return r


def from_02x(version: str) -> dict:
    """as_02x converted back up: ip4 then ip6 (no interface index), ip4 routes then ip6 routes."""
    r = {
        "cniVersion": version,
        "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"},
                {"address": "2001:db8::2/64", "gateway": "2001:db8::1"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, {"dst": "192.168.0.0/16"},
                   {"dst": "::/0", "gw": "2001:db8::1"}],
        "dns": DNS,
    }
    if FAMILY[version] == "04x":
        r["ips"][0] = {"version": "4", **r["ips"][0]}
        r["ips"][1] = {"version": "6", **r["ips"][1]}
    return r


def in_version(version: str) -> dict:
    """BASE_110 as a result of `version` would hold it."""
    fam = FAMILY[version]
    if fam == "1.x":
        return {**copy.deepcopy(BASE_110), "cniVersion": version}
    return as_04x(version) if fam == "04x" else as_02x(version)


def expected_conversion(src: str, dst: str) -> dict:
    fs, fd = FAMILY[src], FAMILY[dst]
    if src == dst:
        return in_version(src)
    if fd == "02x":
        return as_02x(dst)
    if fs == "02x":
        return from_02x(dst)
    if fd == "04x":
        return as_04x(dst)
    if fs == "04x":
        return from_04x_to_100(dst)
    return in_version(dst)


@pytest.mark.parametrize("dst", ALL)
@pytest.mark.parametrize("src", ALL)
def test_every_conversion_pair(src: str, dst: str) -> None:
    start = R.parse(copy.deepcopy(in_version(src)), src)
    assert R.convert(start, dst) == expected_conversion(src, dst)


@pytest.mark.parametrize("version", ALL)
def test_printed_result_parses_back_to_itself(version: str) -> None:
    r = R.parse(in_version(version), version)
    text = gojson.dumps(R.to_json_obj(r))
    assert R.parse(gojson.loads(text), version) == r


def test_1_1_0_to_1_0_0_only_relabels_and_keeps_1_1_0_fields() -> None:  # P-CNV-01
    r = R.convert(R.parse(copy.deepcopy(BASE_110), "1.1.0"), "1.0.0")
    assert r == {**BASE_110, "cniVersion": "1.0.0"}
    assert R.convert(r, "1.1.0") == BASE_110


def test_e24_down_to_0_4_0_adds_version_drops_interface_extras_keeps_route_extras() -> None:
    r = R.convert(R.parse(copy.deepcopy(BASE_110), "1.1.0"), "0.4.0")
    assert [ipc["version"] for ipc in r["ips"]] == ["4", "4", "6"]
    assert r["interfaces"] == [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/var/run/netns/x"}]
    assert r["routes"][0] == {"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1300, "table": 0}


def test_e24_down_to_0_2_0_keeps_first_address_per_family_and_cuts_routes() -> None:
    r = R.convert(R.parse(copy.deepcopy(BASE_110), "1.1.0"), "0.2.0")
    assert r == as_02x("0.2.0")


def test_e25_no_ip_cannot_become_0_2_0() -> None:
    r = R.parse({"cniVersion": "1.1.0", "interfaces": [{"name": "eth0"}]}, "1.1.0")
    for v in ("0.1.0", "0.2.0"):
        with pytest.raises(R.ResultError, match="^cannot convert: no valid IP addresses$"):
            R.convert(r, v)


def test_0_4_0_ip_without_version_is_skipped_going_to_0_2_0() -> None:  # P-CNV-04
    r = R.parse({"cniVersion": "0.4.0", "ips": [{"address": "10.0.0.2/24"}]}, "0.4.0")
    assert r["ips"] == [{"version": "", "address": "10.0.0.2/24"}]
    with pytest.raises(R.ResultError, match="no valid IP addresses"):
        R.convert(r, "0.2.0")


def test_routes_of_a_family_without_an_address_are_dropped_going_to_0_2_0() -> None:
    r = R.parse({"cniVersion": "1.0.0", "ips": [{"address": "2001:db8::2/64"}],
                 "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}, "1.0.0")
    assert R.convert(r, "0.2.0") == {"cniVersion": "0.2.0", "ip6": {"ip": "2001:db8::2/64", "routes": [{"dst": "::/0"}]},
                                     "dns": {}}


def test_ecmp_routes_survive_every_conversion_in_order() -> None:
    r = R.parse({"cniVersion": "1.1.0", "ips": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}],
                 "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.253"}]},
                "1.1.0")
    for v in ALL:
        c = R.convert(r, v)
        routes = c["ip4"]["routes"] if FAMILY[v] == "02x" else c["routes"]
        assert [rt["gw"] for rt in routes] == ["10.10.0.254", "10.10.0.253"]


@pytest.mark.parametrize("target", ["0.5.0", "2.0.0", "1.0", "x"])
def test_e_no_converter_to_an_unknown_version(target: str) -> None:  # P-CNV-06
    r = R.parse(copy.deepcopy(BASE_110), "1.1.0")
    with pytest.raises(R.ResultError) as exc:
        R.convert(r, target)
    assert str(exc.value) == f"no converter for CNI result version 1.1.0 to {target}"


def test_an_empty_target_version_means_0_1_0() -> None:
    r = R.parse({"cniVersion": "0.2.0", "ip4": {"ip": "1.2.3.4/24"}}, "0.2.0")
    assert R.convert(r, "")["cniVersion"] == "0.1.0"


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family_version, got, message",
    [
        ("1.0.0", "0.4.0", 'result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.4.0"'),
        ("1.1.0", "", 'result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is ""'),
        ("0.4.0", "1.0.0", 'result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is "1.0.0"'),
        ("0.3.1", "0.2.0", 'result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is "0.2.0"'),
        ("0.2.0", "0.3.0", 'result type supports [ 0.1.0 0.2.0] but unmarshalled CNIVersion is "0.3.0"'),
    ],
)
def test_p_cnv_07_each_family_parses_only_its_versions(family_version: str, got: str, message: str) -> None:
    with pytest.raises(R.ResultError) as exc:
        R.parse({"cniVersion": got}, family_version)
    assert str(exc.value) == message


@pytest.mark.parametrize("version", ["0.5.0", "", "1.0", "2.0.0"])
def test_an_unknown_version_has_no_result_type(version: str) -> None:
    if version == "":
        assert R.parse({}, "")["cniVersion"] == "0.1.0"  # "" is the 0.2.x family
        return
    with pytest.raises(R.ResultError, match=f'^unsupported CNI result version "{version}"$'):
        R.parse({"cniVersion": version}, version)


@pytest.mark.parametrize("version", ALL)
def test_each_family_accepts_each_of_its_versions(version: str) -> None:
    for v in ALL:
        if FAMILY[v] == FAMILY[version]:
            assert R.parse({"cniVersion": v}, version)["cniVersion"] == v


def test_a_0_2_x_result_without_cni_version_is_0_1_0() -> None:
    assert R.parse({"ip4": {"ip": "1.2.3.4/24"}}, "0.2.0") == {"cniVersion": "0.1.0", "ip4": {"ip": "1.2.3.4/24"}, "dns": {}}


def test_0_3_0_ip_key_is_dropped_silently() -> None:
    r = R.parse({"cniVersion": "0.3.0", "ip": [{"version": "4", "address": "10.0.0.2/24"}]}, "0.3.0")
    assert r == {"cniVersion": "0.3.0", "dns": {}}


def test_unknown_keys_are_ignored_and_lost() -> None:
    r = R.parse({"cniVersion": "1.0.0", "extra": 1, "ips": [{"address": "10.0.0.2/24", "x": 1}]}, "1.0.0")
    assert r == {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24"}], "dns": {}}


def test_keys_match_case_insensitively() -> None:
    r = R.parse({"CNIVERSION": "1.0.0", "IPs": [{"Address": "10.0.0.2/24", "GATEWAY": "10.0.0.1"}]}, "1.0.0")
    assert r["ips"] == [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}]


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"ips": [{"address": "10.0.0.2"}]}, "invalid CIDR address: 10.0.0.2"),  # E23
        ({"ips": [{"address": "10.0.0.2/24", "gateway": "bogus"}]}, "invalid IP address: bogus"),  # E23
        ({"ips": [{"address": None}]}, "invalid CIDR address: "),  # UnmarshalJSON sees null as ""
        ({"routes": [{"dst": "x"}]}, "invalid CIDR address: x"),
        ({"ips": ["x"]}, "json: cannot unmarshal string into Go struct field Result.ips of type types100.ipConfig"),
        ({"ips": [{"address": "10.0.0.2/24", "interface": "x"}]},
         "json: cannot unmarshal string into Go struct field Result.ips.interface of type int"),
        ({"ips": [{"address": 5}]}, "json: cannot unmarshal number into Go struct field Result.ips.address of type string"),
        ({"routes": ["x"]}, "json: cannot unmarshal string into Go struct field Result.routes of type types.route"),
        ({"routes": [{"dst": "0.0.0.0/0", "mtu": "x"}]},
         "json: cannot unmarshal string into Go struct field Result.routes.mtu of type int"),
        ({"interfaces": ["x"]}, "json: cannot unmarshal string into Go struct field Result.interfaces of type types100.Interface"),
        ({"interfaces": [{"mtu": "x"}]}, "json: cannot unmarshal string into Go struct field Interface.interfaces.mtu of type int"),
        ({"dns": "x"}, "json: cannot unmarshal string into Go struct field Result.dns of type types.DNS"),
        ({"ips": "x"}, "json: cannot unmarshal string into Go struct field Result.ips of type []*types100.IPConfig"),
        # a saved type error loses to a later error from an UnmarshalJSON
        ({"dns": "x", "ips": [{"address": "10.0.0.2/24", "gateway": "bogus"}]}, "invalid IP address: bogus"),
    ],
)
def test_1_x_parse_errors_have_go_text(obj: dict, message: str) -> None:
    with pytest.raises(R.ResultError) as exc:
        R.parse({"cniVersion": "1.0.0", **obj}, "1.0.0")
    assert str(exc.value) == message


def test_0_4_x_and_0_2_x_private_types_in_errors() -> None:
    with pytest.raises(R.ResultError, match="of type types040.ipConfig$"):
        R.parse({"cniVersion": "0.4.0", "ips": ["x"]}, "0.4.0")
    with pytest.raises(R.ResultError, match="of type types020.ipConfig$"):
        R.parse({"cniVersion": "0.2.0", "ip4": "x"}, "0.2.0")


def test_null_route_in_0_2_x_is_a_zero_route() -> None:
    r = R.parse({"cniVersion": "0.2.0", "ip4": {"ip": "1.2.3.4/24", "routes": [None]}}, "0.2.0")
    assert r["ip4"]["routes"] == [{"dst": "<nil>"}]


def test_addresses_keep_host_bits_and_print_go_text() -> None:
    r = R.parse({"cniVersion": "1.0.0", "ips": [{"address": "3ffe:ffff:0:01ff::1/64", "gateway": "3ffe:ffff:0::1"},
                                                 {"address": "::ffff:10.1.1.1/120"}]}, "1.0.0")
    assert r["ips"] == [{"address": "3ffe:ffff:0:1ff::1/64", "gateway": "3ffe:ffff::1"}, {"address": "10.1.1.1/24"}]


# --- printing ------------------------------------------------------------------------------------


def test_e26_empty_dns_is_absent_in_1_x_and_present_in_0_x() -> None:
    one = R.to_json_obj(R.parse({"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]}, "1.1.0"))
    assert "dns" not in one
    for v in ("0.4.0", "0.3.1", "0.3.0", "0.2.0", "0.1.0"):
        r = R.convert(R.parse({"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]}, "1.1.0"), v)
        assert R.to_json_obj(r)["dns"] == {}


def test_e27_table_and_scope_zero_are_printed_mtu_zero_is_not() -> None:
    r = R.parse({"cniVersion": "1.1.0", "routes": [{"dst": "0.0.0.0/0", "table": 0, "scope": 0, "mtu": 0,
                                                   "advmss": 0, "priority": 0}]}, "1.1.0")
    assert R.to_json_obj(r)["routes"] == [{"dst": "0.0.0.0/0", "scope": 0, "table": 0}]


def test_1_x_output_has_sorted_keys_at_every_level() -> None:
    text = gojson.dumps(R.to_json_obj(R.parse(copy.deepcopy(BASE_110), "1.1.0")))
    assert text.index('"cniVersion"') < text.index('"dns"') < text.index('"interfaces"') < text.index('"ips"') \
        < text.index('"routes"')
    assert '"address": "10.0.0.2/24",\n            "gateway": "10.0.0.1",\n            "interface": 0' in text


def test_1_x_output_numbers_go_through_float64() -> None:
    r = R.parse({"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "priority": 9007199254740993}]}, "1.0.0")
    assert R.to_json_obj(r)["routes"][0]["priority"] == 9007199254740992
    assert R.to_json_obj(R.convert(r, "0.4.0"))["routes"][0]["priority"] == 9007199254740993


def test_0_4_x_output_keeps_go_struct_order() -> None:
    r = R.convert(R.parse(copy.deepcopy(BASE_110), "1.1.0"), "0.4.0")
    obj = R.to_json_obj(r)
    assert list(obj) == ["cniVersion", "interfaces", "ips", "routes", "dns"]
    assert list(obj["ips"][0]) == ["version", "interface", "address", "gateway"]
    assert list(obj["interfaces"][0]) == ["name", "mac", "sandbox"]
    assert list(obj["routes"][0]) == ["dst", "gw", "mtu", "table"]


def test_0_2_x_output_order() -> None:
    obj = R.to_json_obj(R.convert(R.parse(copy.deepcopy(BASE_110), "1.1.0"), "0.2.0"))
    assert list(obj) == ["cniVersion", "ip4", "ip6", "dns"]
    assert list(obj["ip4"]) == ["ip", "gateway", "routes"]


def test_interface_fields_print_in_go_struct_order_whatever_the_input_order() -> None:
    r = R.parse({"cniVersion": "0.4.0", "interfaces": [{"sandbox": "/x", "mac": "m", "name": "n"}]}, "0.4.0")
    assert list(R.to_json_obj(r)["interfaces"][0]) == ["name", "mac", "sandbox"]


def test_name_is_always_printed_for_an_interface() -> None:
    r = R.parse({"cniVersion": "1.0.0", "interfaces": [{}]}, "1.0.0")
    assert R.to_json_obj(r)["interfaces"] == [{"name": ""}]


def test_new_result_is_1_1_0_with_only_non_empty_parts() -> None:
    r = R.new_result([{"address": "10.0.0.2/24"}], [], None)
    assert r == {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}], "dns": {}}
    assert R.to_json_obj(r) == {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]}


def test_route_and_dns_from_config() -> None:
    from pycni.spec.godecode import decode_struct

    route = decode_struct({"dst": "10.0.0.0/8", "gw": "::ffff:10.0.0.1", "mtu": 0, "table": 0}, R.ROUTE)
    assert R.route_from_config(route) == {"dst": "10.0.0.0/8", "gw": "10.0.0.1", "table": 0}
    dns = decode_struct({"nameservers": [], "domain": "d", "search": ["s"]}, R.DNS)
    assert R.dns_from_config(dns) == {"domain": "d", "search": ["s"]}
    assert R.dns_from_config(None) == {}


@pytest.mark.parametrize("key", ["interfaces", "ips", "routes"])
def test_a_null_interface_or_ip_is_a_clean_error(key):
    # Go decodes null into a nil pointer and the reference then panics (static CHECK, 0.4.0 and 1.0.0 ips);
    # pycni refuses it while parsing, with the index.
    obj = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}], "ips": [{"address": "10.0.0.2/24"}],
           "routes": [{"dst": "0.0.0.0/0"}]}
    obj[key] = [obj[key][0], None]
    with pytest.raises(R.ResultError, match=rf"^{key}\[1\] is null$"):
        R.parse(obj, "1.0.0")


def test_a_null_ip4_in_a_020_result_is_absent():
    # Go's nil *IPConfig: left out, not an AttributeError
    assert R.parse({"cniVersion": "0.2.0", "ip4": None, "ip6": {"ip": "fd00::2/64"}}, "0.2.0") == {
        "cniVersion": "0.2.0", "ip6": {"ip": "fd00::2/64"}, "dns": {}}


@pytest.mark.parametrize("key, entry, field", [("ips", {"gateway": "10.0.0.1"}, "address"), ("ips", {}, "address"),
                                               ("routes", {"gw": "10.0.0.1"}, "dst"), ("routes", {}, "dst")])
@pytest.mark.parametrize("version", ["0.4.0", "1.0.0", "1.1.0"])
def test_an_ip_without_address_or_a_route_without_dst_is_refused(key, entry, field, version):
    # Go would keep an unset IPNet, print it as "<nil>" and pass it on (portmap: iptables -s <nil>).
    obj = {"cniVersion": version, "ips": [{"address": "10.0.0.2/24"}], "routes": [{"dst": "0.0.0.0/0"}]}
    obj[key] = obj[key] + [entry]
    with pytest.raises(R.ResultError, match=rf"^{key}\[1\] has no {field}$"):
        R.parse(obj, version)
