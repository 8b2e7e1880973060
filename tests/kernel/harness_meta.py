"""Harness shared by the tuning, bandwidth, sbr and vrf kernel tests (no tests here; imported by them).

A `World` is one "host" netns in which plugin executables run (`ip netns exec HOST env -i ... PLUGIN`), plus
container namespaces on demand; every namespace comes from the conftest's `netns_factory`, so all of them are
deleted in its finalizer, also on failure. Container interfaces are made by pycni's own `ptp` + `static` IPAM
(`"dad": "skip"`), identically in a pycni world and in its reference twin, so a meta plugin's effect can be
compared with the Debian 1.1.1 binary's (/usr/lib/cni) modulo random names and MACs. Kernel state is read
with iproute2's JSON output (`ip -j`, `tc -j`) and /proc, never with pycni's own decoders.
"""

from __future__ import annotations

import json
import subprocess
import time

import harness_common
from harness_common import NetnsFactory, Outcome, ipj, nsx, read_proc

NET = "metanet"


def tcj(ns: str, *args: str) -> list:
    out = nsx(ns, "tc", "-j", *args).stdout.strip()
    return json.loads(out) if out else []


class World(harness_common.World):
    """One host netns whose meta plugins come from `bindir`; main plugins (ptp, static) always from pycni."""

    def __init__(self, factory: NetnsFactory, tag: str, bindir: str, pycni_dir: str) -> None:
        super().__init__(factory, tag, bindir)
        self.pycni_dir = pycni_dir
        self.extra_hosts: dict[str, str] = {}

    def second_host(self, key: str) -> str:
        if key not in self.extra_hosts:
            self.extra_hosts[key] = self.factory.new(f"{self.tag}{key}")
        return self.extra_hosts[key]

    def placeholders(self) -> dict[str, str]:
        return {**super().placeholders(), **{ns: f"NS-{key}" for key, ns in self.extra_hosts.items()}}

    def attach(self, octet: int, *, cont: str = "c", ifname: str = "eth0", routes: list | None = None,
               host: str | None = None, mtu: int = 0, v6: bool = False) -> dict:
        """pycni ptp + static IPAM: 10.<octet>.0.2/24 (gateway 10.<octet>.0.1) in the container, and with `v6`
        also fd00:<octet>::2/64 (gateway fd00:<octet>::1). Returns the result."""
        addrs = [{"address": f"10.{octet}.0.2/24", "gateway": f"10.{octet}.0.1"}]
        if v6:
            addrs.append({"address": f"fd00:{octet}::2/64", "gateway": f"fd00:{octet}::1"})
        conf: dict = {"cniVersion": "1.0.0", "name": NET, "type": "ptp", "dad": "skip",
                      "ipam": {"type": "static", "addresses": addrs}}
        if routes is not None:
            conf["ipam"]["routes"] = routes
        if mtu:
            conf["mtu"] = mtu
        out = self.run_plugin("ptp", "ADD", conf, cont=cont, ifname=ifname, host=host, bindir=self.pycni_dir)
        assert out.ok, f"ptp ADD failed: {out!r}"
        return out.json

    def meta(self, plugin: str, cmd: str, conf: dict, prev: dict | None = None, **kw: object) -> Outcome:
        c = dict(conf)
        if prev is not None:
            c["prevResult"] = prev
        return self.run_plugin(plugin, cmd, c, **kw)  # type: ignore[arg-type]

    def host_veth(self, host: str | None = None) -> str:
        names = [lk["ifname"] for lk in ipj(host or self.host, "link", "show") if lk["ifname"].startswith("veth")]
        assert len(names) == 1, names
        return names[0]


LINK_KEYS = ("ifname", "flags", "mtu", "address", "txqlen", "promiscuity", "allmulti", "operstate", "link_type")


def link_state(ns: str, dev: str) -> dict:
    lk = ipj(ns, "-d", "link", "show", "dev", dev)[0]
    d = {k: lk.get(k) for k in LINK_KEYS}
    d["txqlen"] = d["txqlen"] or 0  # iproute2 omits a zero qlen
    d["kind"] = (lk.get("linkinfo") or {}).get("info_kind")
    return d


def routing_state(ns: str) -> dict:
    """Rules and every non-local route (all tables), as iproute2 prints them."""
    rules = ipj(ns, "rule", "show") + ipj(ns, "-6", "rule", "show")
    routes = []
    for fam in ("-4", "-6"):
        for r in ipj(ns, fam, "route", "show", "table", "all"):
            if r.get("table") == "local" or r.get("type", "unicast") not in ("unicast",):
                continue
            routes.append({k: r.get(k) for k in ("dst", "gateway", "dev", "table", "protocol", "scope", "metric",
                                                   "prefsrc", "nexthops", "flags")})
    return {"rules": sorted(rules, key=json.dumps), "routes": sorted(routes, key=json.dumps)}


# --- throughput -----------------------------------------------------------------------------------------

RECEIVER = r"""
import json, socket, sys, time
ip, port, warm, window = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(1); s.settimeout(15)
print("ready", flush=True)
c, peer = s.accept(); c.settimeout(0.2)
start = None; total = 0; at_warm = None; t_warm = None
while True:
    now = time.monotonic()
    if start is not None and now >= start + warm and at_warm is None:
        at_warm, t_warm = total, now
    if start is not None and now >= start + warm + window:
        break
    try:
        d = c.recv(65536)
    except socket.timeout:
        if start is not None and now > start + warm + window + 5:
            break
        continue
    if not d:
        break
    if start is None:
        start = time.monotonic()
    total += len(d)
end = time.monotonic()
c.close()
rate = (total - (at_warm or 0)) * 8 / (end - t_warm) if t_warm else 0.0
print(json.dumps({"bits_per_s": rate, "bytes": total, "peer": peer[0]}), flush=True)
"""

SENDER = r"""
import socket, sys, time
dst, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
if src != "-":
    s.bind((src, 0))
s.settimeout(10)
s.connect((dst, port))
buf = b"x" * 16384
end = time.monotonic() + 30
try:
    while time.monotonic() < end:
        s.sendall(buf)
except OSError:
    pass
"""


def measure(server_ns: str, server_ip: str, client_ns: str, *, src: str = "-", port: int = 5201,
            warm: float = 0.5, window: float = 1.5) -> dict:
    """TCP goodput from client_ns to server_ip:port (in server_ns) over `window` s after `warm` s. Bounded."""
    rx = subprocess.Popen(["ip", "netns", "exec", server_ns, "python3", "-c", RECEIVER, server_ip, str(port),
                           str(warm), str(window)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tx = None
    try:
        assert rx.stdout is not None
        line = rx.stdout.readline()
        assert line.strip() == "ready", f"receiver did not start: {line!r} {rx.stderr.read() if rx.stderr else ''}"
        tx = subprocess.Popen(["ip", "netns", "exec", client_ns, "python3", "-c", SENDER, server_ip, str(port), src],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        out, err = rx.communicate(timeout=warm + window + 25)
        assert rx.returncode == 0, f"receiver failed: {err}"
        return json.loads(out.strip().splitlines()[-1])
    finally:
        for p in (tx, rx):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def connects(client_ns: str, dst: str, port: int, server_ns: str, *, src: str = "-", timeout: float = 1.5) -> bool:
    """One TCP connection (with one echoed byte) from client_ns to dst:port served in server_ns."""
    server = (r"import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
              r"s.bind(('0.0.0.0',int(sys.argv[1])));s.listen(4);s.settimeout(float(sys.argv[2]));print('ready',flush=True)"
              "\ntry:\n c,_=s.accept();c.settimeout(2);c.sendall(c.recv(1))\nexcept OSError:\n pass")
    client = (r"import socket,sys;s=socket.socket();s.settimeout(float(sys.argv[4]))"
              "\nif sys.argv[3]!='-': s.bind((sys.argv[3],0))"
              "\ntry:\n s.connect((sys.argv[1],int(sys.argv[2])));s.sendall(b'x');sys.exit(0 if s.recv(1)==b'x' else 1)"
              "\nexcept OSError:\n sys.exit(1)")
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "python3", "-c", server, str(port), str(timeout + 1)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
        p = subprocess.run(["ip", "netns", "exec", client_ns, "python3", "-c", client, dst, str(port), src,
                            str(timeout)], capture_output=True, timeout=timeout + 10)
        return p.returncode == 0
    finally:
        srv.kill()
        srv.wait()


def tx_packets(ns: str, dev: str) -> int:
    return int(read_proc(ns, f"/sys/class/net/{dev}/statistics/tx_packets") or 0)


def wait_for(pred: object, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(pred())  # type: ignore[operator]
