"""pycni.spec.netconf: prevResult parsing as version.ParsePrevResult does it (P-PRV-03/04, E01-E03)."""

from __future__ import annotations

import pytest

from pycni.spec import gojson
from pycni.spec import result as R
from pycni.spec.godecode import DecodeError
from pycni.spec.netconf import load_netconf, parse_prev_result, valid_attachments

IPS_100 = [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}]
IPS_040 = [{"version": "4", "address": "10.0.0.2/24", "gateway": "10.0.0.1"}]


def test_absent_prev_result_is_none() -> None:
    assert parse_prev_result(None, "1.0.0") is None


@pytest.mark.parametrize(
    "conf_version, prev, parsed_version",
    [
        ("1.1.0", {"cniVersion": "1.0.0", "ips": IPS_100}, "1.0.0"),  # E02: accepted, keeps 1.0.0
        ("1.0.0", {"cniVersion": "1.1.0", "ips": IPS_100}, "1.1.0"),
        ("1.1.0", {"ips": IPS_100}, "1.1.0"),  # E03: no cniVersion takes the config's
        ("0.4.0", {"cniVersion": "0.3.1", "ips": IPS_040}, "0.3.1"),
        ("0.4.0", {"ips": IPS_040}, "0.4.0"),
        ("1.0.0", {}, "1.0.0"),  # an empty object is a result with nothing in it
        ("0.2.0", {"ip4": {"ip": "10.0.0.2/24"}}, "0.2.0"),
        ("", {"ip4": {"ip": "10.0.0.2/24"}}, "0.1.0"),  # an empty config version is the 0.2.x family
        ("1.0.0", {"CNIVersion": "1.0.0", "ips": IPS_100}, "1.0.0"),
        ("0.4.0", {"CNIVersion": "1.0.0", "cniVersion": "0.3.1"}, "0.3.1"),  # "cniVersion" sorts after
    ],
)
def test_accepted_prev_results(conf_version: str, prev: dict, parsed_version: str) -> None:
    r = parse_prev_result(prev, conf_version)
    assert r is not None and r["cniVersion"] == parsed_version


@pytest.mark.parametrize(
    "conf_version, prev, message",
    [
        ("1.0.0", {"cniVersion": "0.3.1", "ips": IPS_040},  # E01
         'could not parse prevResult: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.3.1"'),
        ("1.1.0", {"cniVersion": "", "ips": IPS_100},  # E03: an explicit empty string fails
         'could not parse prevResult: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is ""'),
        ("0.4.0", {"cniVersion": "1.0.0"},
         'could not parse prevResult: result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is "1.0.0"'),
        ("1.0.0", {"cniVersion": 5},
         "could not parse prevResult: json: cannot unmarshal number into Go struct field Result.cniVersion of type string"),
        ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "bogus"}]}, "could not parse prevResult: invalid CIDR address: bogus"),
        ("0.5.0", {"cniVersion": "0.5.0"}, 'could not parse prevResult: unsupported CNI result version "0.5.0"'),
    ],
)
def test_rejected_prev_results(conf_version: str, prev: dict, message: str) -> None:
    with pytest.raises(R.ResultError) as exc:
        parse_prev_result(prev, conf_version)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "number, ok, message_number",
    [("1.0", True, ""), ("1e2", True, ""), ("1.5", False, "1.5"), ("1e30", False, "1e+30"),
     ("100000000000000000000", False, "100000000000000000000"), ("0.00001", False, "0.00001")],
)
def test_numbers_go_through_float64_as_in_gos_map(number: str, ok: bool, message_number: str) -> None:
    prev = gojson.loads(('{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":%s}]}' % number).encode())
    if ok:
        r = parse_prev_result(prev, "1.0.0")
        assert r is not None and r["ips"][0]["interface"] == int(float(number))
        return
    with pytest.raises(R.ResultError) as exc:
        parse_prev_result(prev, "1.0.0")
    assert str(exc.value) == (f"could not parse prevResult: json: cannot unmarshal number {message_number} into Go "
                              "struct field Result.ips.interface of type int")


def test_parse_prev_result_does_not_modify_its_input() -> None:
    prev = {"ips": IPS_100}
    parse_prev_result(prev, "1.0.0")
    assert prev == {"ips": IPS_100}


def test_load_netconf_decodes_the_shared_keys_with_go_rules() -> None:
    conf = load_netconf({"cniVersion": "1.0.0", "name": "n", "type": "t", "IPAM": {"type": "static"},
                         "capabilities": {"ips": True}, "prevResult": {"a": 1}})
    assert conf == {"cniVersion": "1.0.0", "name": "n", "type": "t", "ipam": {"type": "static"},
                    "capabilities": {"ips": True}, "prevResult": {"a": 1}}
    with pytest.raises(DecodeError, match="Go struct field PluginConf.capabilities of type bool"):
        load_netconf({"capabilities": {"ips": "yes"}})
    with pytest.raises(DecodeError, match="Go struct field PluginConf.prevResult of type map"):
        load_netconf({"prevResult": "x"})


def test_valid_attachments_prefers_the_current_key_and_falls_back_to_the_old_one() -> None:
    a = [{"containerID": "c1", "ifname": "eth0"}]
    assert valid_attachments({"cni.dev/valid-attachments": a, "cni.dev/attachments": []}) == [("c1", "eth0")]
    assert valid_attachments({"cni.dev/attachments": a}) == [("c1", "eth0")]
    assert valid_attachments({}) is None
