"""Harness for the bridge kernel tests (no tests here; imported by the test_bridge_* modules).

Every scenario gets its own "host" netns: the plugin executable runs inside it with `ip netns exec HOST`,
so the bridge, the random host veths, iptables/nft rules and forwarding sysctls never touch the real host.
Containers are further namespaces. A `Twin` holds two such worlds: one driven by pycni's installed
`bridge` (CNI_PATH = conftest's `pycni_dir`) and one by the reference /usr/lib/cni/bridge (Debian 1.1.1,
CNI_PATH=/usr/lib/cni), so results and kernel state can be compared modulo random names and MACs.
All namespaces come from conftest's netns_factory and are deleted in its finalizer, also on failure.
"""

from __future__ import annotations

import json
import re

import harness_common
from harness_common import CID, REF_DIR, NetnsFactory, Outcome, assert_same, ipj, normalize, nsx, read_proc

NET = "brnet"
BR = "cni-br0"

# Python ICMP echo (no ping binary on this machine): `python3 -c PING_PY <dst>`; exit 0 on a reply.
PING_PY = r"""
import os, socket, struct, sys, time
dst = sys.argv[1]
v6 = ":" in dst
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
fam, proto, typ = (socket.AF_INET6, socket.IPPROTO_ICMPV6, 128) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP, 8)
s = socket.socket(fam, socket.SOCK_RAW, proto); s.settimeout(0.5)
ident = os.getpid() & 0xffff
for seq in range(10):
    body = b"pycni-bridge-test"
    hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    pkt = hdr if v6 else struct.pack("!BBHHH", typ, 0, csum(hdr + body), ident, seq)
    s.sendto(pkt + body, (dst, 0))
    deadline = time.time() + 0.5
    while time.time() < deadline:
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            break
        icmp = data if v6 else data[(data[0] & 15) * 4:]
        if icmp[0] == (129 if v6 else 0) and struct.unpack("!H", icmp[4:6])[0] == ident:
            sys.exit(0)
sys.exit(1)
"""


def sysctl(ns: str, name: str) -> str | None:
    return read_proc(ns, f"/proc/sys/{name}")


def ping(ns: str, dst: str) -> bool:
    return nsx(ns, "python3", "-c", PING_PY, dst, check=False).returncode == 0


class World(harness_common.World):
    """One host netns with the plugin of one implementation, plus container namespaces on demand."""

    def __init__(self, factory: NetnsFactory, kind: str, bindir: str) -> None:
        super().__init__(factory, kind, bindir)
        self.kind = kind

    def run(self, cmd: str, conf: dict | str, *, cont: str = "c", cid: str = CID, ifname: str = "eth0",
            cni_args: str = "", netns: str | None = None, plugin: str = "bridge") -> Outcome:
        return self.run_plugin(plugin, cmd, conf, cont=cont, cid=cid, ifname=ifname, cni_args=cni_args, netns=netns)

    def add(self, conf: dict, **kw: object) -> dict:
        out = self.run("ADD", conf, **kw)  # type: ignore[arg-type]
        assert out.ok, f"{self.kind} ADD failed: {out!r}"
        return out.json

    # -- kernel state ------------------------------------------------------------------------------

    def snapshot(self, extra_sysctls: tuple[str, ...] = ()) -> dict:
        snap = {"host": ns_state(self.host, (f"net/ipv6/conf/{BR}/accept_ra", "net/ipv4/ip_forward",
                                             "net/ipv6/conf/all/forwarding") + extra_sysctls),
                "nft": nft_state(self.host), "iptables": iptables_state(self.host)}
        for key, ns in sorted(self.containers.items()):
            snap[f"container-{key}"] = ns_state(ns, ("net/ipv6/conf/eth0/accept_dad", "net/ipv4/conf/eth0/arp_notify",
                                                      "net/ipv6/conf/eth0/enhanced_dad"))
        return normalize(snap, self)  # type: ignore[return-value]


LINK_KEYS = ("ifname", "flags", "mtu", "master", "operstate", "promiscuity", "link_type")
SLAVE_KEYS = ("hairpin", "isolated", "learning", "flood", "mcast_flood", "bcast_flood", "proxy_arp", "guard",
              "neigh_suppress", "locked")
BRIDGE_KEYS = ("vlan_filtering", "stp_state", "mcast_snooping", "ageing_time", "forward_delay")


def ns_state(ns: str, sysctls: tuple[str, ...]) -> dict:
    links = []
    for lk in ipj(ns, "-d", "link", "show"):
        if lk["ifname"] == "lo":
            continue
        d = {k: lk.get(k) for k in LINK_KEYS}
        info = lk.get("linkinfo") or {}
        d["kind"] = info.get("info_kind")
        if info.get("info_slave_kind") == "bridge":
            d["port"] = {k: info["info_slave_data"].get(k) for k in SLAVE_KEYS}
        if info.get("info_kind") == "bridge":
            # carrier follows the ports with the kernel's linkwatch delay (~1 s): not the plugin's doing
            d["flags"] = [f for f in d["flags"] or [] if f not in ("NO-CARRIER", "LOWER_UP")]
            d["operstate"] = None
            d["bridge"] = {k: info["info_data"].get(k) for k in BRIDGE_KEYS}
            d["addr_assign_type"] = nsx(ns, "cat", f"/sys/class/net/{lk['ifname']}/addr_assign_type").stdout.strip()
        links.append(d)
    addrs = []
    for lk in ipj(ns, "addr", "show"):
        if lk["ifname"] == "lo":
            continue
        for a in lk.get("addr_info", []):
            if a.get("scope") == "link" and a["family"] == "inet6":
                continue  # fe80:: derives from the random MAC
            addrs.append((lk["ifname"], a["family"], a["local"], a["prefixlen"], a.get("scope"),
                          a.get("broadcast")))
    routes = []
    for fam in ("-4", "-6"):
        for r in ipj(ns, fam, "route", "show", "table", "all"):
            if r.get("type", "unicast") != "unicast" or r.get("table") == "local":
                continue
            d = {k: r.get(k) for k in ("dst", "gateway", "dev", "table", "protocol", "scope", "metric", "prefsrc",
                                       "nexthops", "flags")}
            d["flags"] = [f for f in d["flags"] or [] if f != "linkdown"]  # carrier timing, see above
            routes.append(d)
    return {"links": sorted(links, key=json.dumps), "addrs": sorted(addrs, key=repr),
            "routes": sorted(routes, key=json.dumps), "sysctls": {s: sysctl(ns, s) for s in sysctls}}


def nft_state(ns: str) -> list:
    p = nsx(ns, "nft", "-j", "list", "ruleset", check=False)
    if p.returncode != 0:
        return [p.stderr.strip()]
    items = []
    for it in json.loads(p.stdout)["nftables"]:
        if "metainfo" in it:
            continue
        (kind, body), = it.items()
        body = {k: v for k, v in body.items() if k != "handle"}
        items.append({kind: body})
    return items


def iptables_state(ns: str) -> dict:
    out = {}
    for tool in ("iptables-save", "ip6tables-save"):
        p = nsx(ns, tool, "-t", "nat", check=False)
        lines = [re.sub(r"\[\d+:\d+\]", "[]", ln) for ln in p.stdout.splitlines() if not ln.startswith("#")]
        out[tool] = lines
    return out


class Twin:
    def __init__(self, factory: NetnsFactory, pycni_dir: str) -> None:
        self.py = World(factory, "p", pycni_dir)
        self.ref = World(factory, "r", REF_DIR)

    @property
    def both(self) -> tuple[World, World]:
        return self.py, self.ref


def bridge_conf(version: str = "1.0.0", ipam: dict | None = None, **kw: object) -> dict:
    conf: dict = {"cniVersion": version, "name": NET, "type": "bridge", "bridge": BR}
    conf.update(kw)
    if ipam is not None:
        conf["ipam"] = ipam
    return conf


def static(*addrs: str, routes: list | None = None, **kw: object) -> dict:
    ipam: dict = {"type": "static", "addresses": [{"address": a} for a in addrs]}
    if routes:
        ipam["routes"] = routes
    ipam.update(kw)
    return ipam


def host_leftovers(world: World) -> dict:
    """What of an attachment could be left on the host after DEL: ports, masquerade chains/rules, spoof rules."""
    links = [lk["ifname"] for lk in ipj(world.host, "link", "show") if lk["ifname"] not in ("lo", BR)]
    ipt = iptables_state(world.host)
    chains = [ln for lines in ipt.values() for ln in lines if "CNI-" in ln]
    nft = [it for it in nft_state(world.host) if "rule" in it or ("chain" in it and "cni-" in it["chain"]["name"])]
    return {"links": links, "iptables": chains, "nft": nft}


def same_state(py: World, ref: World) -> None:
    assert_same(py.snapshot(), ref.snapshot(), "kernel state")
