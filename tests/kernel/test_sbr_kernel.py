"""sbr through the executables: with two container interfaces, replies leave through the interface the request
came in on; rules and tables equal to the Debian 1.1.1 binary's; pycni keeps routes upstream loses; `table`,
`gateways`, `addSourceHints` (HEAD-only); DEL.

Topology per world: container C; eth0 attached by ptp from host H1 (10.N.0.2, default route via 10.N.0.1), net1
attached by ptp from a second host H2 (10.M.0.2, no routes). Peers outside both subnets live on the hosts'
loopbacks: 198.51.100.7 on H1, 203.0.113.5 on H2. H1 cannot reach 203.0.113.5, so a reply to it that leaves
through eth0 is lost; it only arrives if it leaves through net1.
"""

from __future__ import annotations

import os

import pytest
from harness_common import REF_DIR, NetnsFactory, assert_same, ipj, need_reference, norm_result, normalize, sh
from harness_meta import NET, World, connects, routing_state, tx_packets

DEFAULT = [{"dst": "0.0.0.0/0"}]


def sbr_conf(**kw: object) -> dict:
    c: dict = {"cniVersion": "1.0.0", "name": NET, "type": "sbr"}
    c.update(kw)
    return c


class TwoNics:
    def __init__(self, w: World, n: int) -> None:
        self.w = w
        self.n = n
        self.c = w.container()
        self.h1 = w.host
        self.h2 = w.second_host("h2")
        self.eth0 = w.attach(n, ifname="eth0", routes=DEFAULT)
        self.net1 = w.attach(n + 1, ifname="net1", host=self.h2)
        for dev in ("all", "default", "eth0", "net1"):
            sh("ip", "netns", "exec", self.c, "sh", "-c", f"echo 0 > /proc/sys/net/ipv4/conf/{dev}/rp_filter")
        sh("ip", "-n", self.h1, "addr", "add", "198.51.100.7/32", "dev", "lo")
        sh("ip", "-n", self.h2, "addr", "add", "203.0.113.5/32", "dev", "lo")
        self.ip0 = f"10.{n}.0.2"
        self.ip1 = f"10.{n + 1}.0.2"

    def via_net1(self, port: int = 7301) -> bool:
        return connects(self.h2, self.ip1, port, self.c, src="203.0.113.5")

    def via_eth0(self, port: int = 7302) -> bool:
        return connects(self.h1, self.ip0, port, self.c, src="198.51.100.7")

    def sbr(self, cmd: str, ifname: str = "net1", **kw: object) -> object:
        prev = self.net1 if ifname == "net1" else self.eth0
        return self.w.meta("sbr", cmd, sbr_conf(**kw), prev, ifname=ifname)


@pytest.fixture
def two(netns_factory: NetnsFactory, pycni_dir: str) -> TwoNics:
    return TwoNics(World(netns_factory, "s", pycni_dir, pycni_dir), 61)


def route_dev(ns: str, dst: str, src: str) -> str:
    return ipj(ns, "route", "get", dst, "from", src)[0]["dev"]


def test_replies_leave_through_the_interface_they_came_in_on(two: TwoNics) -> None:
    assert two.via_eth0()
    assert not two.via_net1(), "control: without sbr the reply takes the main default route (eth0) and is lost"
    out = two.sbr("ADD")
    assert out.ok, out  # type: ignore[attr-defined]
    assert route_dev(two.c, "203.0.113.5", two.ip1) == "net1"
    assert route_dev(two.c, "203.0.113.5", two.ip0) == "eth0"
    before = tx_packets(two.c, "net1")
    assert two.via_net1()
    assert tx_packets(two.c, "net1") - before >= 2
    assert two.via_eth0()
    # both interfaces under sbr: each answers through itself, main no longer routes either
    out = two.sbr("ADD", ifname="eth0")
    assert out.ok, out  # type: ignore[attr-defined]
    assert two.via_net1(7303) and two.via_eth0(7304)
    rules = {(r.get("src"), r.get("table")) for r in ipj(two.c, "rule", "show")}
    assert {(two.ip1, "100"), (two.ip0, "101")} <= rules
    main = [r for r in ipj(two.c, "route", "show", "table", "main") if r.get("dev") in ("eth0", "net1")]
    assert main == []
    # DEL removes the rules (and pycni also the routes it put in their tables)
    assert two.sbr("DEL").ok  # type: ignore[attr-defined]
    assert two.sbr("DEL", ifname="eth0").ok  # type: ignore[attr-defined]
    assert {r.get("table") for r in ipj(two.c, "rule", "show")} == {"local", "main", "default"}
    assert ipj(two.c, "route", "show", "table", "100") == [] and ipj(two.c, "route", "show", "table", "101") == []
    assert two.sbr("DEL").ok  # type: ignore[attr-defined]


def test_state_matches_the_reference(netns_factory: NetnsFactory, pycni_dir: str) -> None:
    need_reference("sbr")
    worlds = {"sp": TwoNics(World(netns_factory, "sp", pycni_dir, pycni_dir), 63),
              "sr": TwoNics(World(netns_factory, "sr", REF_DIR, pycni_dir), 63)}
    results, states, after_del = {}, {}, {}
    for tag, t in worlds.items():
        out = t.sbr("ADD")
        assert out.ok, (tag, out)  # type: ignore[attr-defined]
        results[tag] = norm_result(out.json, t.w)  # type: ignore[attr-defined]
        states[tag] = normalize(routing_state(t.c), t.w)
        assert t.via_net1()
    assert_same(results["sp"], results["sr"], "ADD result")
    assert_same(states["sp"], states["sr"], "rules and routes after ADD")
    for tag, t in worlds.items():
        assert t.sbr("DEL").ok, tag  # type: ignore[attr-defined]
        after_del[tag] = normalize(routing_state(t.c), t.w)
    # upstream leaves the moved routes in table 100; pycni removes them with the rule
    ref_leftover = [r for r in after_del["sr"]["routes"] if r["table"] == "100"]
    assert ref_leftover and all(r["dev"] == "net1" for r in ref_leftover)
    after_del["sr"]["routes"] = [r for r in after_del["sr"]["routes"] if r["table"] != "100"]
    assert_same(after_del["sp"], after_del["sr"], "rules and routes after DEL (table 100 aside)")


def test_pycni_keeps_routes_upstream_loses(netns_factory: NetnsFactory, pycni_dir: str) -> None:
    """A route of the interface whose gateway is in none of its subnets: upstream deletes it from main
    without copying it anywhere; pycni moves it to the sbr table like the others."""
    need_reference("sbr")
    worlds = {"kp": TwoNics(World(netns_factory, "kp", pycni_dir, pycni_dir), 65),
              "kr": TwoNics(World(netns_factory, "kr", REF_DIR, pycni_dir), 65)}
    found = {}
    for tag, t in worlds.items():
        sh("ip", "-n", t.c, "route", "add", "192.0.2.0/24", "via", "172.31.0.1", "dev", "net1", "onlink")
        assert t.sbr("ADD").ok, tag  # type: ignore[attr-defined]
        found[tag] = [(r.get("table"), r.get("gateway")) for r in ipj(t.c, "route", "show", "table", "all")
                      if r.get("dst") == "192.0.2.0/24"]
    assert found["kp"] == [("100", "172.31.0.1")]
    assert found["kr"] == []


def test_fixed_table_only_adds_rules(two: TwoNics) -> None:
    main_before = ipj(two.c, "route", "show", "table", "main")
    out = two.sbr("ADD", table=500)
    assert out.ok, out  # type: ignore[attr-defined]
    assert ipj(two.c, "route", "show", "table", "main") == main_before
    assert [(r["src"], r.get("table")) for r in ipj(two.c, "rule", "show") if r.get("src", "all") != "all"] == [
        (two.ip1, "500")]
    sh("ip", "-n", two.c, "route", "add", "default", "via", "10.62.0.1", "dev", "net1", "table", "500")
    assert two.via_net1()
    assert two.sbr("DEL", table=500).ok  # type: ignore[attr-defined]
    assert [r for r in ipj(two.c, "rule", "show") if r.get("src", "all") != "all"] == []
    # a user-chosen table is not sbr's: its routes stay
    assert len(ipj(two.c, "route", "show", "table", "500")) == 1


def test_static_gateway_and_source_hints(two: TwoNics) -> None:
    sh("ip", "-n", two.c, "route", "add", "default", "via", "10.62.0.1", "dev", "net1", "metric", "50")
    sh("ip", "-n", two.c, "route", "add", "10.62.0.254", "dev", "net1", "scope", "link")  # reachable gateway
    out = two.sbr("ADD", gateways=["10.62.0.254", "fd00::1"], addSourceHints=True)
    assert out.ok, out  # type: ignore[attr-defined]
    defaults = [(r.get("gateway"), r.get("dev"), r.get("metric")) for r in ipj(two.c, "route", "show", "table", "100")
                if r["dst"] == "default"]
    # the static gateway is the table's default; main's default (metric 50) is copied next to it
    assert sorted(defaults) == [("10.62.0.1", "net1", 50), ("10.62.0.254", "net1", None)]
    main = [(r["dst"], r.get("prefsrc"), r.get("gateway")) for r in ipj(two.c, "route", "show", "table", "main")
            if r.get("dev") == "net1"]
    assert ("10.62.0.0/24", two.ip1, None) in main  # the subnet route stays, with its source hint
    assert all(g is None for _, _, g in main)


def test_del_when_the_namespace_is_gone(two: TwoNics) -> None:
    assert two.sbr("ADD").ok  # type: ignore[attr-defined]
    path = two.w.path()
    sh("ip", "netns", "del", two.c)
    out = two.sbr("DEL")
    assert out.ok, out  # type: ignore[attr-defined]
    assert not os.path.exists(path)  # upstream's lock would have created an empty file here


def test_add_errors(two: TwoNics) -> None:
    out = two.sbr("ADD", gateways=["10.0.0.1", "10.0.0.2"])
    assert out.msg == "gateways list contains multiple IPv4 addresses: 10.0.0.1 and 10.0.0.2"  # type: ignore[attr-defined]
    out = two.w.meta("sbr", "ADD", sbr_conf(), two.net1, ifname="nope0")
    assert out.msg == "Cannot find network interface nope0: Link not found"
    assert two.sbr("ADD").ok  # type: ignore[attr-defined]
    # as upstream: a repeated ADD picks the next free table, whose default route has no way to its gateway
    assert two.sbr("ADD").msg == "Failed to add default route to 10.62.0.1: network is unreachable"  # type: ignore[attr-defined]
