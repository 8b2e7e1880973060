"""bandwidth: which limits apply, their validation and error texts, the ifb name, the pass-through cases (no root)."""

from __future__ import annotations

import json

import pytest

from pycni import skel
from pycni.plugins.meta import bandwidth
from pycni.plugins.meta.bandwidth import config as B
from pycni.plugins.meta.bandwidth import device as BD

PREV = {"cniVersion": "1.0.0",
        "interfaces": [{"name": "veth1", "mac": "aa:bb:cc:dd:ee:01"},
                       {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/run/netns/c"}],
        "ips": [{"interface": 1, "address": "10.1.0.2/24", "gateway": "10.1.0.1"}]}


def conf(**kw: object) -> dict:
    d: dict = {"cniVersion": "1.0.0", "name": "net", "type": "bandwidth"}
    d.update(kw)
    return d


def call(cmd: str, c_: dict, netns: str = "/run/netns/none-pycni-test") -> skel.Outcome:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent"}
    return skel.run(bandwidth.PLUGIN, env, json.dumps(c_).encode())


def limits(bw: B.Bandwidth | None) -> tuple | None:
    if bw is None:
        return None
    return (bw.ingress_rate, bw.ingress_burst, bw.egress_rate, bw.egress_burst, bw.unshaped, bw.shaped)


def test_no_limits_at_all() -> None:
    assert B.parse_config(conf()).bandwidth is None


def test_top_level_keys_win_over_runtime_config() -> None:
    rt = {"bandwidth": {"ingressRate": 8000, "ingressBurst": 800}}
    c_ = B.parse_config(conf(egressRate=1000, egressBurst=100, runtimeConfig=rt))
    assert limits(c_.bandwidth) == (0, 0, 1000, 100, [], [])
    assert limits(B.parse_config(conf(runtimeConfig=rt)).bandwidth) == (8000, 800, 0, 0, [], [])


def test_any_top_level_key_selects_the_top_level_entry_even_null_or_other_case() -> None:
    rt = {"bandwidth": {"ingressRate": 8000, "ingressBurst": 800}}
    # Go allocates the embedded *BandwidthEntry as soon as one of its keys appears
    assert limits(B.parse_config(conf(ingressRate=None, runtimeConfig=rt)).bandwidth) == (0, 0, 0, 0, [], [])
    assert B.parse_config(conf(INGRESSRATE=0, runtimeConfig=rt)).bandwidth.is_zero()


def test_runtime_config_bandwidth_keys_are_case_insensitive() -> None:
    c_ = B.parse_config(conf(runtimeConfig={"Bandwidth": {"IngressRate": 8000, "ingressburst": 800}}))
    assert limits(c_.bandwidth) == (8000, 800, 0, 0, [], [])


@pytest.mark.parametrize("extra, msg", [
    ({"ingressRate": 5}, "if rate is set, burst must also be set"),
    ({"egressBurst": 5}, "if burst is set, rate must also be set"),
    ({"ingressRate": 5, "ingressBurst": 8 * 0xFFFFFFFF}, "burst cannot be more than 4GB"),
    ({"runtimeConfig": {"bandwidth": {"egressRate": 5}}}, "if rate is set, burst must also be set"),
])
def test_rate_and_burst_validation(extra: dict, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        B.parse_config(conf(**extra))
    assert str(ei.value) == msg


def test_burst_just_below_4gb_is_fine() -> None:
    B.parse_config(conf(ingressRate=5, ingressBurst=8 * 0xFFFFFFFF - 1))


@pytest.mark.parametrize("extra, msg", [
    ({"ingressRate": -1}, "json: cannot unmarshal number -1 into Go struct field PluginConf.ingressRate of type uint64"),
    ({"egressBurst": "1"}, "json: cannot unmarshal string into Go struct field PluginConf.egressBurst of type uint64"),
    ({"ingressRate": 1.5}, "json: cannot unmarshal number 1.5 into Go struct field PluginConf.ingressRate of type "
                           "uint64"),
    ({"runtimeConfig": {"bandwidth": {"egressRate": "x"}}},
     "json: cannot unmarshal string into Go struct field BandwidthEntry.runtimeConfig.bandwidth.egressRate of type "
     "uint64"),
    ({"runtimeConfig": {"bandwidth": 5}},
     "json: cannot unmarshal number into Go struct field .runtimeConfig.bandwidth of type main.BandwidthEntry"),
])
def test_decode_errors(extra: dict, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        B.parse_config(conf(**extra))
    assert str(ei.value) == "failed to parse network configuration: " + msg


def test_prev_result_errors_are_double_prefixed_like_upstream() -> None:
    with pytest.raises(ValueError) as ei:
        B.parse_config(conf(prevResult={"cniVersion": "1.0.0", "ips": [{"address": "x"}]}))
    assert str(ei.value) == "could not parse prevResult: could not parse prevResult: invalid CIDR address: x"


def test_ifb_name_matches_the_reference_observation() -> None:
    # Debian 1.1.1, network "mpinvnet", container "mpinvcid1" -> ifb bwp1e41921c417e
    assert BD.ifb_name("mpinvnet", "mpinvcid1") == "bwp1e41921c417e"
    assert len(BD.ifb_name("n", "x" * 200)) == 15


# --- pycni's subnet extension ------------------------------------------------------------------------


def test_subnets_follow_the_entry_or_the_top_level() -> None:
    c_ = B.parse_config(conf(ingressRate=8, ingressBurst=8, unshapedSubnets=["10.0.0.0/8"]))
    assert c_.bandwidth.unshaped == ["10.0.0.0/8"]
    rt = {"bandwidth": {"egressRate": 8, "egressBurst": 8, "shapedSubnets": ["fd00::/8"]}}
    assert B.parse_config(conf(runtimeConfig=rt)).bandwidth.shaped == ["fd00::/8"]
    # operator config lists the subnets, the runtime gives the limits
    rt = {"bandwidth": {"egressRate": 8, "egressBurst": 8}}
    c_ = B.parse_config(conf(runtimeConfig=rt, unshapedSubnets=["192.0.2.0/24"]))
    assert limits(c_.bandwidth) == (0, 0, 8, 8, ["192.0.2.0/24"], [])


def test_subnet_validation() -> None:
    B.validate_subnets(B.Bandwidth(unshaped=["10.0.0.0/8", "fd00::/64"]))
    with pytest.raises(ValueError, match="^unshapedSubnets and shapedSubnets cannot be both specified"):
        B.validate_subnets(B.Bandwidth(unshaped=["10.0.0.0/8"], shaped=["10.1.0.0/16"]))
    with pytest.raises(ValueError) as ei:
        B.validate_subnets(B.Bandwidth(shaped=["10.0.0.0"]))
    assert str(ei.value) == 'bad subnet "10.0.0.0" provided, details invalid CIDR address: 10.0.0.0'
    with pytest.raises(ValueError, match="of type string"):
        B.parse_config(conf(shapedSubnets=[1]))


def test_subnets_are_checked_on_add_before_the_prev_result() -> None:
    out = call("ADD", conf(ingressRate=8000, ingressBurst=8000, unshapedSubnets=["x"]))
    assert out.error.msg == 'bad subnet "x" provided, details invalid CIDR address: x'


# --- the plugin through skel --------------------------------------------------------------------------


def test_versions_start_at_030() -> None:
    assert bandwidth.PLUGIN.versions == ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
    out = call("ADD", conf(cniVersion="0.2.0"))
    assert out.error.code == 1


def test_nothing_to_shape_passes_the_prev_result_through() -> None:
    out = call("ADD", conf(prevResult=PREV))
    assert out.error is None and json.loads(out.stdout()) == PREV
    out = call("ADD", conf(ingressRate=0, ingressBurst=0, prevResult=PREV))
    assert json.loads(out.stdout()) == PREV


def test_nothing_to_shape_and_no_prev_result_is_an_error_not_a_panic() -> None:
    out = call("ADD", conf())
    assert (out.error.code, out.error.msg) == (999, "must be called as chained plugin")


def test_add_needs_prev_result_interfaces_and_netns() -> None:
    limits_ = {"ingressRate": 8000, "ingressBurst": 8000}
    assert call("ADD", conf(**limits_)).error.msg == "must be called as chained plugin"
    out = call("ADD", conf(**limits_, prevResult={"cniVersion": "1.0.0"}))
    # the netns is opened first; upstream prints a nil handle here, pycni the path
    assert out.error.msg == ('failed to open netns "/run/netns/none-pycni-test": failed to Statfs '
                             '"/run/netns/none-pycni-test": no such file or directory')


def test_check_without_prev_result() -> None:
    assert call("CHECK", conf()).error.msg == "must be called as a chained plugin"


def test_del_validates_the_config_too() -> None:
    assert call("DEL", conf(ingressRate=5)).error.msg == "if rate is set, burst must also be set"


def test_type_errors_quote_numbers_as_written_like_go():
    from pycni.plugins.meta.bandwidth.config import _json_kind
    from pycni.spec.gojson import loads

    assert _json_kind(loads("1e3")) == "number 1e3"
    assert _json_kind(loads("1.50")) == "number 1.50"
    assert _json_kind(loads("7")) == "number 7"
