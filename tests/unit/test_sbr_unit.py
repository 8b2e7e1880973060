"""sbr: config and prevResult handling, IP selection, static gateways, table choice, which routes go where (no root)."""

from __future__ import annotations

import json
from socket import AF_INET, AF_INET6

import pytest

from pycni import skel
from pycni.netlink import codec as c
from pycni.plugins.meta import sbr
from pycni.plugins.meta.sbr import config as S
from pycni.plugins.meta.sbr import plan as SP

PREV = {"cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/c"}, {"name": "net1", "sandbox": "/run/netns/c"}],
        "ips": [{"interface": 1, "address": "192.0.2.100/24", "gateway": "192.0.2.1"},
                {"interface": 0, "address": "10.0.0.2/24"},
                {"address": "fd00::2/64"},
                {"interface": 7, "address": "198.51.100.2/24"}]}


def conf(**kw: object) -> dict:
    d: dict = {"cniVersion": "1.0.0", "name": "net", "type": "sbr"}
    d.update(kw)
    return d


def call(cmd: str, c_: dict, netns: str = "/run/netns/none-pycni-test", ifname: str = "net1") -> skel.Outcome:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": netns, "CNI_IFNAME": ifname,
           "CNI_PATH": "/nonexistent"}
    return skel.run(sbr.PLUGIN, env, json.dumps(c_).encode())


def test_config_fields() -> None:
    c_ = S.parse_config(conf(table=500, gateways=["192.0.2.254"], addSourceHints=True))
    assert (c_.table, c_.gateways, c_.add_source_hints, c_.prev) == (500, ["192.0.2.254"], True, None)
    c_ = S.parse_config(conf())
    assert (c_.table, c_.gateways, c_.add_source_hints) == (None, [], False)


def test_config_errors() -> None:
    with pytest.raises(ValueError) as ei:
        S.parse_config(conf(table="x"))
    assert str(ei.value) == ("failed to parse network configuration: json: cannot unmarshal string into Go struct "
                             "field PluginConf.table of type int")


def test_prev_result_is_parsed_without_version_injection() -> None:
    # unlike version.ParsePrevResult, sbr's own parsing does not fill in a missing cniVersion
    with pytest.raises(ValueError) as ei:
        S.parse_config(conf(prevResult={"ips": []}))
    assert str(ei.value) == ('could not parse prevResult: result type supports [1.0.0 1.1.0] but unmarshalled '
                             'CNIVersion is ""')
    c_ = S.parse_config(conf(cniVersion="0.4.0", prevResult={"cniVersion": "0.4.0", "ips": [
        {"version": "4", "address": "10.0.0.2/24"}]}))
    assert c_.prev["cniVersion"] == "1.1.0" and c_.prev["ips"] == [{"address": "10.0.0.2/24"}]


def test_ip_configs_keep_matching_missing_and_out_of_range_indexes() -> None:
    got = [ipc["address"] for ipc in S.ip_configs("net1", PREV)]
    assert got == ["192.0.2.100/24", "fd00::2/64", "198.51.100.2/24"]
    with pytest.raises(ValueError, match="^No IP addresses supplied on interface: net1$"):
        S.ip_configs("net1", {"cniVersion": "1.0.0"})


def test_static_gateways() -> None:
    assert S.static_gateways([]) == (None, None)
    assert S.static_gateways(["fd00::1", "192.0.2.254"]) == ("192.0.2.254", "fd00::1")
    assert S.static_gateways(["::ffff:192.0.2.1"]) == ("192.0.2.1", None)  # Go: an IPv4-mapped address is IPv4
    with pytest.raises(ValueError, match=r"^gateways list cannot contain more than 2 entries \(one IPv4, one IPv6\)$"):
        S.static_gateways(["1.1.1.1", "2.2.2.2", "::1"])
    with pytest.raises(ValueError, match="^invalid static gateway IP address: nope$"):
        S.static_gateways(["nope"])
    with pytest.raises(ValueError, match="^gateways list contains multiple IPv4 addresses: 10.0.0.1 and 10.0.0.2$"):
        S.static_gateways(["10.0.0.1", "10.0.0.2"])
    with pytest.raises(ValueError, match="^gateways list contains multiple IPv6 addresses: fd00::1 and fd00::2$"):
        S.static_gateways(["fd00:0::1", "fd00::2"])


def test_next_table_skips_used_ones() -> None:
    assert SP.next_table(set(), 100) == 100
    assert SP.next_table({100, 101, 103, 254}, 100) == 102


def rt(dst: str | None, plen: int, *, gw: str | None = None, src: str | None = None, fam: int = AF_INET,
       mp: list | None = None) -> c.Route:
    return c.Route(family=fam, dst=dst, dst_len=plen, gateway=gw, prefsrc=src, oif=3, multipath=mp)


def test_route_belongs_like_upstream() -> None:
    subnet = rt("192.0.2.0", 24, src="192.0.2.100")
    default = rt(None, 0, gw="192.0.2.1")
    far = rt("203.0.113.0", 24, gw="198.51.100.9")
    generic_v6 = rt("fe80::", 64, fam=AF_INET6)
    mp = rt(None, 0, mp=[c.Nexthop("10.9.0.1", 3), c.Nexthop("192.0.2.9", 3)])
    assert SP.route_belongs(subnet, "192.0.2.100/24")
    assert SP.route_belongs(default, "192.0.2.100/24")
    assert not SP.route_belongs(far, "192.0.2.100/24")
    assert SP.route_belongs(generic_v6, "192.0.2.100/24")  # neither source nor gateway: copied everywhere
    assert SP.route_belongs(mp, "192.0.2.100/24")


def test_unclaimed_routes_are_kept_in_the_first_table_of_their_family() -> None:
    ipcs = [{"address": "192.0.2.100/24"}, {"address": "fd00::2/64"}]
    far4 = rt("203.0.113.0", 24, gw="10.255.0.1")
    far6 = rt("2001:db8::", 32, gw="fd99::1", fam=AF_INET6)
    subnet = rt("192.0.2.0", 24, src="192.0.2.100")
    plan = SP.plan_copies(ipcs, [100, 101], [far4, far6, subnet])
    assert [(r.dst, t) for r, t in plan] == [("192.0.2.0", 100), ("203.0.113.0", 100), ("2001:db8::", 101)]


def test_static_gateway_default_is_not_overwritten_by_mains() -> None:
    ipcs = [{"address": "192.0.2.100/24"}]
    default = rt(None, 0, gw="192.0.2.1")
    subnet = rt("192.0.2.0", 24, src="192.0.2.100")
    assert [(r.dst, t) for r, t in SP.plan_copies(ipcs, [100], [default, subnet])] == [(None, 100), ("192.0.2.0", 100)]
    assert [(r.dst, t) for r, t in SP.plan_copies(ipcs, [100], [default, subnet], {100})] == [("192.0.2.0", 100)]
    # a default with another metric does not replace it: it is copied (not lost)
    other = rt(None, 0, gw="192.0.2.1")
    other.priority = 50
    assert [(r.priority, t) for r, t in SP.plan_copies(ipcs, [100], [other], {100})] == [(50, 100)]
    v6 = rt(None, 0, gw="fd00::1", fam=AF_INET6)
    v6.priority = 1024
    assert SP.plan_copies([{"address": "fd00::2/64"}], [100], [v6], {100}) == []


def test_copy_to_table_keeps_the_route_and_clears_flags() -> None:
    r = rt("192.0.2.0", 24, src="192.0.2.100")
    r.protocol, r.scope, r.flags, r.priority, r.metrics = c.RTPROT_KERNEL, c.RT_SCOPE_LINK, 0x10, 5, {c.RTAX_MTU: 1400}
    cp = SP.copy_to_table(r, 100)
    assert (cp.table, cp.flags, cp.dst, cp.prefsrc, cp.protocol, cp.scope, cp.priority, cp.metrics, cp.oif) == (
        100, 0, "192.0.2.0", "192.0.2.100", c.RTPROT_KERNEL, c.RT_SCOPE_LINK, 5, {c.RTAX_MTU: 1400}, 3)
    assert r.table == c.RT_TABLE_MAIN  # the original is untouched


def test_add_errors_before_the_namespace() -> None:
    assert call("ADD", conf()).error.msg == "This plugin must be called as chained plugin"
    out = call("ADD", conf(prevResult={"cniVersion": "1.0.0"}))
    assert out.error.msg == "No IP addresses supplied on interface: net1"
    out = call("ADD", conf(prevResult=PREV))
    assert out.error.msg == 'failed to Statfs "/run/netns/none-pycni-test": no such file or directory'


def test_del_with_the_namespace_gone_succeeds_and_creates_nothing(tmp_path: object) -> None:
    missing = f"{tmp_path}/ns"
    assert call("DEL", conf(), netns=missing).error is None
    import os

    assert not os.path.exists(missing)  # upstream's flock(O_CREAT) would leave an empty file here
    assert call("DEL", conf(), netns="").error is None


def test_check_is_a_no_op() -> None:
    assert call("CHECK", conf()).error is None


@pytest.mark.parametrize("address", ["0.0.0.0/0", "0.0.0.0/24", "::/0", "::/64"])
def test_ip_configs_refuse_the_unspecified_address(address: str) -> None:
    # its rule would match nothing and outlive DEL, which finds rules by the interface's own addresses (fuzz seed 15)
    prev = {"interfaces": [{"name": "eth0"}], "ips": [{"interface": 0, "address": "10.0.0.2/24"},
                                                      {"interface": 0, "address": address}]}
    with pytest.raises(ValueError, match="unspecified address"):
        S.ip_configs("eth0", prev)
