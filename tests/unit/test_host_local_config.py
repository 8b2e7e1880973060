"""host-local LoadIPAMConfig (upstream config_test.go) and every config-stage error string (§3.9)."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.host_local.config import load_ipam_config
from pycni.plugins.ipam.host_local.range import Range, RangeSet, ip_text
from pycni.spec import gojson, ipnet


def ip(s: str) -> tuple[int, int]:
    v = ipnet.parse_ip(s)
    assert v is not None
    return v


def load(text: str, env_args: str = ""):
    return load_ipam_config(gojson.loads(text), env_args)


def rng(cidr: str, start: str, end: str, gw: str) -> Range:
    sub, plen = ipnet.parse_cidr(cidr)
    return Range(sub, plen, ip(start), ip(end), ip(gw))


def test_legacy_single_range():  # C1
    cfg = load("""{"cniVersion": "0.3.1", "name": "mynet", "type": "ipvlan", "master": "foo0",
        "ipam": {"type": "host-local", "subnet": "10.1.2.0/24", "rangeStart": "10.1.2.9",
                 "rangeEnd": "10.1.2.20", "gateway": "10.1.2.30"}}""")
    assert cfg.version == "0.3.1"
    assert cfg.name == "mynet" and cfg.type == "host-local"
    assert cfg.ranges == [RangeSet([rng("10.1.2.0/24", "10.1.2.9", "10.1.2.20", "10.1.2.30")])]
    assert cfg.routes == [] and cfg.data_dir == "" and cfg.resolv_conf == "" and cfg.ip_args == []


def test_range_sets():  # C2
    cfg = load("""{"cniVersion": "0.3.1", "name": "mynet", "ipam": {"type": "host-local", "ranges": [
        [{"subnet": "10.1.2.0/24", "rangeStart": "10.1.2.9", "rangeEnd": "10.1.2.20", "gateway": "10.1.2.30"},
         {"subnet": "10.1.4.0/24"}],
        [{"subnet": "11.1.2.0/24", "rangeStart": "11.1.2.9", "rangeEnd": "11.1.2.20", "gateway": "11.1.2.30"}]]}}""")
    assert cfg.ranges == [
        RangeSet([rng("10.1.2.0/24", "10.1.2.9", "10.1.2.20", "10.1.2.30"),
                  rng("10.1.4.0/24", "10.1.4.1", "10.1.4.254", "10.1.4.1")]),
        RangeSet([rng("11.1.2.0/24", "11.1.2.9", "11.1.2.20", "11.1.2.30")]),
    ]


def test_runtime_then_legacy_then_ranges():  # C3
    cfg = load("""{"cniVersion": "0.3.1", "name": "mynet",
        "runtimeConfig": {"irrelevant": "a", "ipRanges": [[{"subnet": "12.1.3.0/24"}]]},
        "ipam": {"type": "host-local", "subnet": "10.1.2.0/24", "rangeStart": "10.1.2.9",
                 "rangeEnd": "10.1.2.20", "gateway": "10.1.2.30",
                 "ranges": [[{"subnet": "11.1.2.0/24", "rangeStart": "11.1.2.9", "rangeEnd": "11.1.2.20",
                              "gateway": "11.1.2.30"}]]}}""")
    assert cfg.ranges == [
        RangeSet([rng("12.1.3.0/24", "12.1.3.1", "12.1.3.254", "12.1.3.1")]),
        RangeSet([rng("10.1.2.0/24", "10.1.2.9", "10.1.2.20", "10.1.2.30")]),
        RangeSet([rng("11.1.2.0/24", "11.1.2.9", "11.1.2.20", "11.1.2.30")]),
    ]


BASE = """{"cniVersion": "0.3.1", "name": "mynet", %s "ipam": {"type": "host-local", "ranges": [
    [{"subnet": "10.1.2.0/24"}], [{"subnet": "11.1.2.0/24"}], [{"subnet": "2001:db8:1::/64"}]]}}"""


@pytest.mark.parametrize("env,want", [("IP=10.1.2.10", ["10.1.2.10"]), ("IP=10.1.2.11/24", ["10.1.2.11"])])
def test_cni_args_ip(env, want):  # C4, C5
    cfg = load(BASE % "", env)
    assert [ip_text(x) for x in cfg.ip_args] == want


@pytest.mark.parametrize("suffix4,suffix6", [("", ""), ("/24", "/64")])
def test_requested_ips_from_all_sources_in_order(suffix4, suffix6):  # C6, C7
    args = ('"args": {"cni": {"ips": ["10.1.2.11%s", "11.11.11.11%s", "2001:db8:1::11%s"]}},'
            % (suffix4, suffix4, suffix6))
    cfg = load(BASE % args, f"IP=10.1.2.10{suffix4}")
    assert [ip_text(x) for x in cfg.ip_args] == ["10.1.2.10", "10.1.2.11", "11.11.11.11", "2001:db8:1::11"]


def test_runtime_ips():  # C13
    cfg = load("""{"cniVersion": "0.3.1", "name": "mynet",
        "runtimeConfig": {"ips": ["192.168.0.1", "192.168.0.5/24", "2001:db8::1/64"]},
        "ipam": {"type": "host-local", "subnet": "10.1.2.0/24"}}""")
    assert cfg.version == "0.3.1"
    assert [ip_text(x) for x in cfg.ip_args] == ["192.168.0.1", "192.168.0.5", "2001:db8::1"]
    assert [x[0] for x in cfg.ip_args] == [4, 4, 6]


def test_ips_union_order_cni_args_args_runtime():
    cfg = load("""{"cniVersion": "1.0.0", "name": "n", "runtimeConfig": {"ips": ["10.0.0.7"]},
        "args": {"cni": {"ips": ["10.0.0.6"]}}, "ipam": {"subnet": "10.0.0.0/24"}}""", "IP=10.0.0.5")
    assert [ip_text(x) for x in cfg.ip_args] == ["10.0.0.5", "10.0.0.6", "10.0.0.7"]


def test_case_insensitive_keys():
    cfg = load("""{"cniVersion": "1.0.0", "name": "n", "IPAM": {"Ranges": [[{"SUBNET": "10.0.0.0/24",
        "RangeStart": "10.0.0.5"}]], "DATADIR": "/x", "ResolvConf": "/r"}, "RuntimeConfig": {"IPs": ["10.0.0.9"]}}""")
    assert cfg.ranges[0][0].start == ip("10.0.0.5")
    assert cfg.data_dir == "/x" and cfg.resolv_conf == "/r"
    assert [ip_text(x) for x in cfg.ip_args] == ["10.0.0.9"]


def test_routes_are_passed_through():
    cfg = load("""{"cniVersion": "1.0.0", "name": "n", "ipam": {"subnet": "10.0.0.0/24",
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "0.0.0.0/0", "gw": "10.0.0.9"}]}}""")
    assert len(cfg.routes) == 2


V = '"cniVersion": "0.3.1", "name": "mynet"'


@pytest.mark.parametrize(
    "text,env,msg",
    [
        # C8, C9, C10, C11
        ('{%s, "ipam": {"ranges": [[{"subnet": "10.1.2.0/24"}, {"subnet": "10.2.2.0/24"}], [{"subnet": "10.1.4.0/24"},'
         '{"subnet": "10.1.6.0/24"}, {"subnet": "10.1.8.0/24"}, {"subnet": "10.1.2.0/24"}]]}}' % V, "",
         "range set 0 overlaps with 1"),
        ('{%s, "ipam": {"ranges": [[{"subnet": "10.1.0.0/22"}, {"subnet": "10.1.2.0/24"}]]}}' % V, "",
         "invalid range set 0: subnets 10.1.0.1-10.1.3.254 and 10.1.2.1-10.1.2.254 overlap"),
        ('{%s, "ipam": {"ranges": [[{"subnet": "10.1.0.0/22"}, {"subnet": "2001:db8:5::/64"}]]}}' % V, "",
         "invalid range set 0: mixed address families"),
        ('{"cniVersion": "0.2.0", "name": "mynet", "ipam": {"ranges": [[{"subnet": "10.1.2.0/24"}],'
         '[{"subnet": "11.1.2.0/24"}]]}}', "", "CNI version 0.2.0 does not support more than 1 address per family"),
        ('{"name": "mynet", "ipam": {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "11.1.2.0/24"}]]}}', "",
         "CNI version  does not support more than 1 address per family"),
        # §3.9 config stage
        ('{%s}' % V, "", "IPAM config missing 'ipam' key"),
        ('{%s, "ipam": null}' % V, "", "IPAM config missing 'ipam' key"),
        ('{%s, "ipam": {"type": "host-local"}}' % V, "", "no IP ranges specified"),
        ('{%s, "ipam": {"rangeStart": "10.0.0.2"}}' % V, "", "no IP ranges specified"),
        ('{%s, "ipam": {"ranges": []}}' % V, "", "no IP ranges specified"),
        ('{%s, "ipam": {"ranges": [[]]}}' % V, "", "invalid range set 0: empty range set"),
        ('{%s, "ipam": {"ranges": [null]}}' % V, "", "invalid range set 0: empty range set"),
        ('{%s, "ipam": {"ranges": [[{"gateway": "10.0.0.1"}]]}}' % V, "", "invalid range set 0: IP <nil> not v4 nor v6"),
        ('{%s, "ipam": {"subnet": "192.0.2.0/31"}}' % V, "",
         "invalid range set 0: Network 192.0.2.0/31 too small to allocate from"),
        ('{%s, "ipam": {"subnet": "::ffff:10.0.0.0/120"}}' % V, "",
         "invalid range set 0: IPNet IP and Mask version mismatch"),
        ('{%s, "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "::ffff:10.1.0.0/120"}]]}}' % V, "",
         "invalid range set 1: IPNet IP and Mask version mismatch"),
        ('{%s, "ipam": {"subnet": "10.0.0.1/24"}}' % V, "",
         "invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24", "rangeStart": "10.0.1.5"}}' % V, "",
         "invalid range set 0: RangeStart 10.0.1.5 not in network 10.0.0.0/24"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24", "rangeEnd": "10.0.1.5"}}' % V, "",
         "invalid range set 0: RangeEnd 10.0.1.5 not in network 10.0.0.0/24"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}, "args": {"cni": {"ips": [""]}}}' % V, "",
         "cannot understand ip: IP <nil> not v4 nor v6"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}, "runtimeConfig": {"ips": ["bogus"]}}' % V, "",
         "invalid IP address bogus"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}, "args": {"cni": {"ips": [5]}}}' % V, "",
         "json: cannot unmarshal number into Go struct field IPAMArgs.args.cni.ips of type *ip.IP"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}, "args": {"cni": {"ips": "10.0.0.1"}}}' % V, "",
         "json: cannot unmarshal string into Go struct field IPAMArgs.args.cni.ips of type []*ip.IP"),
        ('{%s, "ipam": {"subnet": "bogus"}}' % V, "", "invalid CIDR address: bogus"),
        # types.IPNet decodes a string itself; the error carries the field context (Go >= 1.24)
        ('{%s, "ipam": {"subnet": 5}}' % V, "",
         "json: cannot unmarshal number into Go struct field IPAMConfig.ipam.subnet of type string"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24", "gateway": "x"}}' % V, "", "invalid IP address: x"),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24", "gateway": 5}}' % V, "",
         "json: cannot unmarshal number into Go struct field IPAMConfig.ipam.gateway of type net.IP"),
        ('{%s, "ipam": {"ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": 1}]]}}' % V, "",
         "json: cannot unmarshal number into Go struct field Range.ipam.ranges.rangeStart of type net.IP"),
        ('{%s, "ipam": {"ranges": "x"}}' % V, "",
         "json: cannot unmarshal string into Go struct field IPAMConfig.ipam.ranges of type []allocator.RangeSet"),
        ('{%s, "ipam": {"ranges": ["x"]}}' % V, "",
         "json: cannot unmarshal string into Go struct field IPAMConfig.ipam.ranges of type allocator.RangeSet"),
        ('{%s, "ipam": {"dataDir": 1, "subnet": "10.0.0.0/24"}}' % V, "",
         "json: cannot unmarshal number into Go struct field IPAMConfig.ipam.dataDir of type string"),
        # CNI_ARGS (§1.4): host-local knows IP and IgnoreUnknown only
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "GATEWAY=10.0.0.1", 'ARGS: unknown args ["GATEWAY=10.0.0.1"]'),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "IP=10.0.0.5;", 'ARGS: invalid pair ""'),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "IP=bogus",
         'ARGS: error parsing value of pair "IP=bogus": invalid IP address bogus'),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "FOO=1;IP=bogus",
         'ARGS: error parsing value of pair "IP=bogus": invalid IP address bogus'),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "IgnoreUnknown=maybe",
         'ARGS: error parsing value of pair "IgnoreUnknown=maybe": boolean unmarshal error: invalid input maybe'),
        ('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "A=1;B=2", 'ARGS: unknown args ["A=1" "B=2"]'),
    ],
)
def test_config_errors(text, env, msg):
    with pytest.raises(ValueError) as e:
        load(text, env)
    assert str(e.value) == msg


def test_two_families_on_legacy_version_is_fine():  # C12
    cfg = load('{"cniVersion": "0.2.0", "name": "mynet", "ipam": {"ranges": [[{"subnet": "10.1.2.0/24"}],'
               '[{"subnet": "2001:db8:1::/48"}]]}}')
    assert len(cfg.ranges) == 2


def test_ignore_unknown_args():
    cfg = load('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.0.0.5")
    assert [ip_text(x) for x in cfg.ip_args] == ["10.0.0.5"]
    cfg = load('{%s, "ipam": {"subnet": "10.0.0.0/24"}}' % V, "IP=")
    assert cfg.ip_args == []


def test_gateway_outside_subnet_accepted_and_legacy_range_ignored_without_subnet():
    cfg = load('{%s, "ipam": {"subnet": "10.0.0.0/24", "gateway": "10.9.9.9"}}' % V)
    assert cfg.ranges[0][0].gateway == ip("10.9.9.9")
