"""Harness for the bridge kernel tests (no tests here; imported by the other test_bridge_* modules).

Every scenario gets its own "host" netns: the plugin executable runs inside it with `ip netns exec HOST`,
so the bridge, the random host veths, iptables/nft rules and forwarding sysctls never touch the real host.
Containers are further namespaces. A `Twin` holds two such worlds: one driven by pycni's installed
`bridge` (CNI_PATH = pycni's plugin dir) and one by the reference /usr/lib/cni/bridge (Debian 1.1.1,
CNI_PATH=/usr/lib/cni), so results and kernel state can be compared modulo random names and MACs.
All namespaces are deleted in fixture finalizers, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PREFIX = "pycni-t-"
REF_DIR = "/usr/lib/cni"
REF_BRIDGE = f"{REF_DIR}/bridge"
CID = "cid1"
NET = "brnet"
BR = "cni-br0"

MAC_RE = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
VETH_RE = re.compile(r"\bveth[0-9a-f]{8}\b")

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


def skip_without_reference() -> None:
    if not os.access(REF_BRIDGE, os.X_OK):
        pytest.skip(f"reference plugin {REF_BRIDGE} is not installed (Debian containernetworking-plugins)")


def need_tool(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"`{name}` is not installed")


def sh(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run(list(args), capture_output=True, text=True, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def nsx(ns: str, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, check=check, input=input)


def ipj(ns: str, *args: str) -> list:
    out = sh("ip", "-n", ns, "-j", *args).stdout.strip()
    return json.loads(out) if out else []


def sysctl(ns: str, name: str) -> str | None:
    p = nsx(ns, "cat", f"/proc/sys/{name}", check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def ping(ns: str, dst: str) -> bool:
    return nsx(ns, "python3", "-c", PING_PY, dst, check=False).returncode == 0


class Namespaces:
    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self, tag: str) -> str:
        name = f"{PREFIX}{os.urandom(3).hex()}-{tag}"
        sh("ip", "netns", "add", name)
        self.names.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def cleanup(self) -> None:
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.names.clear()


class Outcome:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.json = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            self.json = None

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def msg(self) -> str:
        return (self.json or {}).get("msg", "") if isinstance(self.json, dict) else ""

    def __repr__(self) -> str:
        return f"Outcome(rc={self.rc}, stdout={self.stdout!r}, stderr={self.stderr[-800:]!r})"


class World:
    """One host netns with the plugin of one implementation, plus container namespaces on demand."""

    def __init__(self, nss: Namespaces, kind: str, bindir: str) -> None:
        self.kind = kind
        self.host = nss.new(f"{kind}h")
        self.nss = nss
        self.bindir = bindir
        self.containers: dict[str, str] = {}

    def container(self, key: str = "c") -> str:
        if key not in self.containers:
            self.containers[key] = self.nss.new(f"{self.kind}{key}")
        return self.containers[key]

    def netns_path(self, key: str = "c") -> str:
        return f"/run/netns/{self.container(key)}"

    def run(self, cmd: str, conf: dict | str, *, cont: str = "c", cid: str = CID, ifname: str = "eth0",
            cni_args: str = "", netns: str | None = None, plugin: str = "bridge") -> Outcome:
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": cmd,
               "CNI_CONTAINERID": cid, "CNI_IFNAME": ifname, "CNI_PATH": self.bindir,
               "CNI_NETNS": self.netns_path(cont) if netns is None else netns}
        if cni_args:
            env["CNI_ARGS"] = cni_args
        stdin = conf if isinstance(conf, str) else json.dumps(conf)
        argv = ["ip", "netns", "exec", self.host, "env", "-i"] + [f"{k}={v}" for k, v in env.items()]
        argv.append(os.path.join(self.bindir, plugin))
        return Outcome(subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120))

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
        return normalize(snap, self)


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


def normalize(obj: object, world: World | None = None) -> object:
    """Random MACs, veth names and namespace names replaced by placeholders (JSON round trip)."""
    text = json.dumps(obj, sort_keys=True)
    text = MAC_RE.sub("MAC", text)
    text = VETH_RE.sub("VETH", text)
    if world is not None:
        for key, ns in world.containers.items():
            text = text.replace(ns, f"NS-{key}")
        text = text.replace(world.host, "NS-host")
    return json.loads(text)


def norm_result(res: dict | None, world: World) -> dict | None:
    if res is None:
        return None
    res = dict(res)
    if res.get("dns") == {}:
        del res["dns"]  # Debian 1.1.1 always prints "dns": {}; HEAD (and pycni) omit an empty one
    return normalize(res, world)  # type: ignore[return-value]


class Twin:
    def __init__(self, nss: Namespaces, pycni_bin: str) -> None:
        self.py = World(nss, "p", pycni_bin)
        self.ref = World(nss, "r", REF_DIR)

    @property
    def both(self) -> tuple[World, World]:
        return self.py, self.ref


def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("pycni-bin")
    from pycni.cli.install import install

    install(str(d))
    return str(d)


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


def with_prev(conf: dict, result: dict) -> dict:
    c = dict(conf)
    c["prevResult"] = result
    return c


def host_leftovers(world: World) -> dict:
    """What of an attachment could be left on the host after DEL: ports, masquerade chains/rules, spoof rules."""
    links = [lk["ifname"] for lk in ipj(world.host, "link", "show") if lk["ifname"] not in ("lo", BR)]
    ipt = iptables_state(world.host)
    chains = [ln for lines in ipt.values() for ln in lines if "CNI-" in ln]
    nft = [it for it in nft_state(world.host) if "rule" in it or ("chain" in it and "cni-" in it["chain"]["name"])]
    return {"links": links, "iptables": chains, "nft": nft}


def here() -> Path:
    return Path(__file__).resolve().parent


def diff(a: object, b: object, path: str = "") -> list[str]:
    """Human-readable differences between two normalized snapshots (for assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: pycni={a!r} reference={b!r}"]


def same_state(py: World, ref: World) -> None:
    a, b = py.snapshot(), ref.snapshot()
    d = diff(a, b)
    assert not d, "kernel state differs:\n" + "\n".join(d)
