"""bridge + static IPAM with ECMP default routes: two gateway namespaces on the bridge (.1 and .254, IPv4 and
IPv6), the container's default route becomes one multipath route, and with fib_multipath_hash_policy=1 many UDP
flows (distinct source ports) split between the gateways. Each gateway counts what reaches it with an nft counter
in its prerouting hook. The reference (1.1.1) cannot do this: it adds the routes one by one.
"""

from __future__ import annotations

import json

from harness_bridge import BR, World, bridge_conf, ping, static
from harness_common import NetnsFactory, ipj, need_tools, nsx, sh, with_prev

FLOWS = 256
TARGET4 = "198.51.100.1"
TARGET6 = "2001:db8:ff::1"
PORT = 9999

SEND_PY = r"""
import socket, sys
dst, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
for i in range(n):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", base + i))
    s.sendto(b"ecmp", (dst, %d))
    s.close()
""" % PORT

COUNTERS_NFT = f"""
table inet cnt {{
    chain pre {{
        type filter hook prerouting priority -300; policy accept;
        ip daddr {TARGET4} udp dport {PORT} counter
        ip6 daddr {TARGET6} udp dport {PORT} counter
    }}
}}
"""


def _gateway(netns_factory: NetnsFactory, world: World, tag: str, v4: str, v6: str) -> str:
    g = netns_factory.new(tag)
    port = f"gw-{tag}"
    sh("ip", "-n", world.host, "link", "add", port, "type", "veth", "peer", "name", "g0", "netns", g)
    sh("ip", "-n", world.host, "link", "set", port, "master", BR, "up")
    sh("ip", "-n", g, "addr", "add", f"{v4}/24", "dev", "g0")
    sh("ip", "-n", g, "addr", "add", f"{v6}/64", "dev", "g0", "nodad")
    sh("ip", "-n", g, "link", "set", "g0", "up")
    nsx(g, "nft", "-f", "-", input=COUNTERS_NFT)
    return g


def _counts(g: str) -> tuple[int, int]:
    rules = [it["rule"] for it in json.loads(nsx(g, "nft", "-j", "list", "table", "inet", "cnt").stdout)["nftables"]
             if "rule" in it]
    pk = [next(e["counter"]["packets"] for e in r["expr"] if "counter" in e) for r in rules]
    return pk[0], pk[1]


def test_ecmp_default_routes_split_traffic_between_two_gateways(netns_factory: NetnsFactory,
                                                                 pycni_dir: str) -> None:
    need_tools("nft")
    world = World(netns_factory, "p", pycni_dir)
    sh("ip", "-n", world.host, "link", "add", BR, "type", "bridge")  # reused by the plugin
    sh("ip", "-n", world.host, "link", "set", BR, "up")
    g1 = _gateway(netns_factory, world, "g1", "10.77.0.1", "fd00:77::1")
    g2 = _gateway(netns_factory, world, "g2", "10.77.0.254", "fd00:77::fe")
    routes = [{"dst": "0.0.0.0/0", "gw": "10.77.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.77.0.254"},
              {"dst": "::/0", "gw": "fd00:77::1"}, {"dst": "::/0", "gw": "fd00:77::fe"}]
    conf = bridge_conf("1.0.0", dad="skip", ipam=static("10.77.0.10/24", "fd00:77::10/64", routes=routes))
    cont = world.container()
    res = world.add(conf)
    assert res["routes"] == routes  # isDefaultGateway is off: the IPAM routes are kept as given
    assert all("gateway" not in ip for ip in res["ips"])  # no gateway on the bridge either
    assert [a for a in ipj(world.host, "addr", "show", BR)[0]["addr_info"] if a.get("scope") == "global"] == []

    for fam in ("-4", "-6"):
        default = [r for r in ipj(cont, fam, "route", "show", "default")]
        assert len(default) == 1 and len(default[0]["nexthops"]) == 2, default
        assert {nh["gateway"] for nh in default[0]["nexthops"]} == (
            {"10.77.0.1", "10.77.0.254"} if fam == "-4" else {"fd00:77::1", "fd00:77::fe"})
    assert world.run("CHECK", with_prev(conf, res)).ok

    nsx(cont, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1", "net.ipv6.fib_multipath_hash_policy=1")
    for gw in ("10.77.0.1", "10.77.0.254", "fd00:77::1", "fd00:77::fe"):
        assert ping(cont, gw), f"gateway {gw} unreachable"  # also resolves the neighbours
    nsx(cont, "python3", "-c", SEND_PY, TARGET4, "20000", str(FLOWS))
    nsx(cont, "python3", "-c", SEND_PY, TARGET6, "30000", str(FLOWS))
    (a4, a6), (b4, b6) = _counts(g1), _counts(g2)
    print(f"ECMP split: IPv4 {a4}/{b4}, IPv6 {a6}/{b6}")
    assert a4 + b4 == FLOWS and a6 + b6 == FLOWS, (a4, b4, a6, b6)
    for fam, a, b in (("IPv4", a4, b4), ("IPv6", a6, b6)):
        assert min(a, b) >= 0.35 * FLOWS, f"{fam} flows not split: gw1={a} gw2={b}"

    out = world.run("DEL", with_prev(conf, res))
    assert out.ok, out
    assert [lk["ifname"] for lk in ipj(cont, "link", "show")] == ["lo"]
