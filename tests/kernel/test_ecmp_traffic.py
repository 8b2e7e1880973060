"""Real traffic through ECMP routes set up by configure_iface, compared with the reference's way (root).

Topology, all in namespaces made here:  container eth0 ─┐
                                                        br0 (netns "lan") ─┬─ gw1 (10.10.0.1,   fd00:10::1)
                                                                           └─ gw2 (10.10.0.254, fd00:10::fe)
The container sends one UDP datagram per flow (distinct source ports) to an off-subnet address; nft counters in
each gateway's prerouting hook count what arrives. The same flows are then sent after re-adding the routes the
reference's way (one CREATE-only add per route, i.e. `ip route prepend`), and both splits are printed.

Gateway neighbour entries are pinned (REACHABLE, then STALE) because IPv4's separate default-route aliases are
picked by fib_select_default, which looks at neighbour state: with REACHABLE gateways the first alias (the one
added last) takes everything; with STALE/PERMANENT ones it alternates per route *lookup* (per packet for
unconnected UDP), whatever the hash policy. Neither is per-flow ECMP; a multipath route is hashed per flow.
"""

from __future__ import annotations

import json
import shutil
import socket

import pytest

from pycni.ipam.configure import configure_iface
from pycni.netlink.netns import netns

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(shutil.which("nft") is None, reason="nft is needed to count packets at the gateways"),
]

FLOWS = 256
SPORT0 = 20000
DPORT = 9999
DST = {4: "198.51.100.7", 6: "2001:db8:ffff::7"}
GW = {4: ("10.10.0.1", "10.10.0.254"), 6: ("fd00:10::1", "fd00:10::fe")}

NFT_RULES = f"""
table inet pycni_count {{
    counter v4 {{ }}
    counter v6 {{ }}
    chain pre {{
        type filter hook prerouting priority -300; policy accept;
        meta nfproto ipv4 udp dport {DPORT} counter name "v4"
        meta nfproto ipv6 udp dport {DPORT} counter name "v6"
    }}
}}
"""


def result(w1: int = 1, w2: int = 1) -> dict:
    return {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0"}],
        "ips": [
            {"interface": 0, "address": "10.10.0.2/24", "gateway": GW[4][0]},
            {"interface": 0, "address": "fd00:10::2/64", "gateway": GW[6][0]},
        ],
        "routes": [
            {"dst": "0.0.0.0/0", "gw": GW[4][0], "weight": w1},
            {"dst": "0.0.0.0/0", "gw": GW[4][1], "weight": w2},
            {"dst": "::/0", "gw": GW[6][0], "weight": w1},
            {"dst": "::/0", "gw": GW[6][1], "weight": w2},
        ],
    }


class Topology:
    def __init__(self, factory, ipr) -> None:
        self.ipr = ipr
        self.lan = factory.new("lan")
        self.cont = factory.new("ct")
        self.gws = [factory.new("gw1"), factory.new("gw2")]
        ipr.ip(self.lan, "link", "add", "br0", "type", "bridge")
        ipr.ip(self.lan, "link", "set", "br0", "up")
        self._plug(self.cont, "eth0", "p-ct")
        self.gw_macs: dict[str, str] = {}
        for i, ns in enumerate(self.gws):
            self._plug(ns, "g0", f"p-gw{i + 1}")
            ipr.ip(ns, "link", "set", "g0", "up")
            ipr.ip(ns, "addr", "add", f"{GW[4][i]}/24", "dev", "g0")
            ipr.ip(ns, "addr", "add", f"{GW[6][i]}/64", "dev", "g0", "nodad")
            mac = ipr.ipj(ns, "link", "show", "g0")[0]["address"]
            self.gw_macs[GW[4][i]] = self.gw_macs[GW[6][i]] = mac
            ipr.run("nft", "-f", "-", ns=ns, input=NFT_RULES)
        for key in ("net.ipv4.fib_multipath_hash_policy", "net.ipv6.fib_multipath_hash_policy"):
            ipr.run("sysctl", "-qw", f"{key}=1", ns=self.cont)  # hash on the 5-tuple
        # A fixed seed makes the split reproducible run to run (the sysctl exists since Linux 6.11).
        ipr.run("sysctl", "-qw", "net.ipv4.fib_multipath_hash_seed=24601", ns=self.cont, check=False)

    def _plug(self, ns: str, name: str, port: str) -> None:
        self.ipr.ip(ns, "link", "add", name, "type", "veth", "peer", "name", port, "netns", self.lan)
        self.ipr.ip(self.lan, "link", "set", port, "master", "br0", "up")

    def set_neighbours(self, state: str) -> None:
        """Pin the gateways' neighbour entries in `state` (reachable / stale): no packet waits in (or is dropped
        from) an unresolved-neighbour queue, and the IPv4 default-alias choice is reproducible."""
        for gw, mac in self.gw_macs.items():
            self.ipr.ip(self.cont, "neigh", "replace", gw, "lladdr", mac, "dev", "eth0", "nud", state)

    def lookups(self, fam: int, sport: int, times: int = 4) -> set[str]:
        """Gateways the kernel picks for one flow over `times` consecutive route lookups."""
        out = set()
        for _ in range(times):
            r = self.ipr.ipj(self.cont, f"-{fam}", "route", "get", DST[fam], "ipproto", "udp", "sport", str(sport),
                             "dport", str(DPORT))
            out.add(r[0]["gateway"])
        return out

    def counters(self) -> list[dict[int, int]]:
        out = []
        for ns in self.gws:
            data = json.loads(self.ipr.run("nft", "-j", "list", "counters", "table", "inet", "pycni_count",
                                           ns=ns).stdout)
            got = {}
            for item in data["nftables"]:
                ctr = item.get("counter")
                if ctr:
                    got[4 if ctr["name"] == "v4" else 6] = ctr["packets"]
            out.append(got)
        return out

    def send(self, fam: int) -> tuple[int, int]:
        """One datagram for each of FLOWS source ports; returns packets seen at (gw1, gw2)."""
        before = self.counters()
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        with netns(f"/run/netns/{self.cont}"):
            for i in range(FLOWS):
                with socket.socket(af, socket.SOCK_DGRAM) as s:
                    s.bind(("", SPORT0 + i))
                    s.sendto(b"pycni-ecmp", (DST[fam], DPORT))
        after = self.counters()
        return after[0][fam] - before[0][fam], after[1][fam] - before[1][fam]

    def readd_upstream_style(self) -> None:
        """The reference's ConfigureIface route step: each result route added alone with CREATE only."""
        for fam, flag in ((4, "-4"), (6, "-6")):
            self.ipr.ip(self.cont, flag, "route", "del", "default")
            for gw in GW[fam]:
                self.ipr.ip(self.cont, flag, "route", "prepend", "default", "via", gw, "dev", "eth0")


@pytest.fixture
def topo(netns_factory, iproute2) -> Topology:
    return Topology(netns_factory, iproute2)


def _fmt(split: tuple[int, int]) -> str:
    return f"gw1 {split[0]}/{FLOWS} gw2 {split[1]}/{FLOWS}"


def test_ecmp_spreads_flows_over_both_gateways(topo: Topology, capsys) -> None:
    with netns(f"/run/netns/{topo.cont}"):
        configure_iface("eth0", result())
    topo.set_neighbours("reachable")
    pycni = {fam: topo.send(fam) for fam in (4, 6)}
    topo.set_neighbours("stale")
    pycni_stale = {fam: topo.send(fam) for fam in (4, 6)}
    pycni_flow = {fam: [topo.lookups(fam, SPORT0 + i) for i in range(8)] for fam in (4, 6)}

    topo.readd_upstream_style()
    v4 = [r for r in topo.ipr.routes(topo.cont, "-4") if r["dst"] == "default"]
    v6 = [r for r in topo.ipr.routes(topo.cont, "-6") if r["dst"] == "default"]
    topo.set_neighbours("reachable")
    upstream = {fam: topo.send(fam) for fam in (4, 6)}
    topo.set_neighbours("stale")
    upstream_stale = {fam: topo.send(fam) for fam in (4, 6)}
    upstream_flow = {fam: [topo.lookups(fam, SPORT0 + i) for i in range(8)] for fam in (4, 6)}

    with capsys.disabled():
        print()
        for fam in (4, 6):
            print(f"IPv{fam} pycni: {_fmt(pycni[fam])} | upstream-style: {_fmt(upstream[fam])}   "
                  f"[neighbours REACHABLE]")
            print(f"IPv{fam} pycni: {_fmt(pycni_stale[fam])} | upstream-style: {_fmt(upstream_stale[fam])}   "
                  f"[neighbours STALE]")
        print(f"upstream-style kernel view: IPv4 {len(v4)} separate default routes, IPv6 {len(v6)} default route "
              f"with {len(v6[0].get('nexthops', [])) if v6 else 0} nexthops; flows whose 4 lookups hit both "
              f"gateways (STALE): IPv4 {sum(len(g) > 1 for g in upstream_flow[4])}/8, "
              f"pycni {sum(len(g) > 1 for g in pycni_flow[4])}/8")

    for fam in (4, 6):
        for split in (pycni[fam], pycni_stale[fam]):
            assert sum(split) == FLOWS, (fam, split)
            assert min(split) >= 0.35 * FLOWS, (fam, split)
        assert all(len(g) == 1 for g in pycni_flow[fam])  # a flow sticks to its nexthop
    # What pycni fixes. IPv4, reference way: two separate aliases; with REACHABLE gateways the newest alias
    # (gw2, added last) takes every flow; with STALE ones the kernel alternates per lookup, so one flow's
    # packets hop between gateways. IPv6 merges the routes into a multipath route by itself.
    assert len(v4) == 2 and all("nexthops" not in r for r in v4)
    assert upstream[4] == (0, FLOWS)
    assert sum(upstream_stale[4]) == FLOWS and any(len(g) > 1 for g in upstream_flow[4])
    assert len(v6) == 1 and min(upstream[6]) >= 0.35 * FLOWS


def test_weighted_ecmp_follows_weights(topo: Topology, capsys) -> None:
    with netns(f"/run/netns/{topo.cont}"):
        configure_iface("eth0", result(1, 3))
    topo.set_neighbours("reachable")
    split = {fam: topo.send(fam) for fam in (4, 6)}
    with capsys.disabled():
        print()
        for fam in (4, 6):
            print(f"IPv{fam} pycni weights 1:3: {_fmt(split[fam])}")
    for fam in (4, 6):
        g1, g2 = split[fam]
        assert g1 + g2 == FLOWS
        assert 0.15 * FLOWS <= g1 <= 0.35 * FLOWS, (fam, split[fam])
