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
import os
import re
import subprocess
import time

import pytest

REF_DIR = "/usr/lib/cni"
CID = "cid1"
NET = "metanet"

MAC_RE = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
VETH_RE = re.compile(r"\bveth[0-9a-f]{8}\b")


def need_reference(plugin: str) -> None:
    if not os.access(f"{REF_DIR}/{plugin}", os.X_OK):
        pytest.skip(f"reference plugin {REF_DIR}/{plugin} is not installed (Debian containernetworking-plugins)")


def sh(*args: str, check: bool = True, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    p = subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def nsx(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, check=check)


def ipj(ns: str, *args: str) -> list:
    out = sh("ip", "-n", ns, "-j", *args).stdout.strip()
    return json.loads(out) if out else []


def tcj(ns: str, *args: str) -> list:
    out = nsx(ns, "tc", "-j", *args).stdout.strip()
    return json.loads(out) if out else []


def read_proc(ns: str, path: str) -> str | None:
    p = nsx(ns, "cat", path, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def install_plugins(tmp_path_factory: pytest.TempPathFactory) -> str:
    from pycni.cli.install import install

    d = tmp_path_factory.mktemp("pycni-bin")
    install(str(d))
    return str(d)


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
        return self.json.get("msg", "") if isinstance(self.json, dict) else ""

    def __repr__(self) -> str:
        return f"Outcome(rc={self.rc}, stdout={self.stdout!r}, stderr={self.stderr[-600:]!r})"


class World:
    """One host netns whose meta plugins come from `bindir`; main plugins (ptp, static) always from pycni."""

    def __init__(self, factory: object, tag: str, bindir: str, pycni_bin: str) -> None:
        self.factory = factory
        self.tag = tag
        self.bindir = bindir
        self.pycni_bin = pycni_bin
        self.host = factory.new(f"{tag}h")  # type: ignore[attr-defined]
        self.containers: dict[str, str] = {}
        self.extra_hosts: dict[str, str] = {}

    def container(self, key: str = "c") -> str:
        if key not in self.containers:
            self.containers[key] = self.factory.new(f"{self.tag}{key}")  # type: ignore[attr-defined]
        return self.containers[key]

    def second_host(self, key: str) -> str:
        if key not in self.extra_hosts:
            self.extra_hosts[key] = self.factory.new(f"{self.tag}{key}")  # type: ignore[attr-defined]
        return self.extra_hosts[key]

    def path(self, key: str = "c") -> str:
        return f"/run/netns/{self.container(key)}"

    def run(self, plugin: str, cmd: str, conf: dict | str, *, cont: str = "c", ifname: str = "eth0", cid: str = CID,
            cni_args: str = "", netns: str | None = None, host: str | None = None, bindir: str | None = None,
            timeout: float = 60) -> Outcome:
        bindir = bindir or self.bindir
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": cmd,
               "CNI_CONTAINERID": cid, "CNI_IFNAME": ifname, "CNI_PATH": bindir,
               "CNI_NETNS": self.path(cont) if netns is None else netns}
        if cni_args:
            env["CNI_ARGS"] = cni_args
        stdin = conf if isinstance(conf, str) else json.dumps(conf)
        argv = ["ip", "netns", "exec", host or self.host, "env", "-i"] + [f"{k}={v}" for k, v in env.items()]
        argv.append(os.path.join(bindir, plugin))
        return Outcome(subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout))

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
        out = self.run("ptp", "ADD", conf, cont=cont, ifname=ifname, host=host, bindir=self.pycni_bin)
        assert out.ok, f"ptp ADD failed: {out!r}"
        return out.json

    def meta(self, plugin: str, cmd: str, conf: dict, prev: dict | None = None, **kw: object) -> Outcome:
        c = dict(conf)
        if prev is not None:
            c["prevResult"] = prev
        return self.run(plugin, cmd, c, **kw)  # type: ignore[arg-type]

    def host_veth(self, host: str | None = None) -> str:
        names = [lk["ifname"] for lk in ipj(host or self.host, "link", "show") if lk["ifname"].startswith("veth")]
        assert len(names) == 1, names
        return names[0]


def normalize(obj: object, *worlds: World) -> object:
    """Random MACs, veth names and namespace names replaced by placeholders (JSON round trip)."""
    text = json.dumps(obj, sort_keys=True)
    text = MAC_RE.sub("MAC", text)
    text = VETH_RE.sub("VETH", text)
    for w in worlds:
        for key, ns in list(w.containers.items()) + list(w.extra_hosts.items()):
            text = text.replace(ns, f"NS-{key}")
        text = text.replace(w.host, "NS-host")
    return json.loads(text)


def norm_result(res: dict | None, world: World) -> dict | None:
    if res is None:
        return None
    res = dict(res)
    if res.get("dns") == {}:
        del res["dns"]  # Debian 1.1.1 always prints "dns": {}; HEAD (and pycni) omit an empty one
    return normalize(res, world)  # type: ignore[return-value]


LINK_KEYS = ("ifname", "flags", "mtu", "address", "txqlen", "promiscuity", "allmulti", "operstate", "link_type")


def link_state(ns: str, dev: str) -> dict:
    lk = ipj(ns, "-d", "link", "show", "dev", dev)[0]
    d = {k: lk.get(k) for k in LINK_KEYS}
    d["txqlen"] = d["txqlen"] or 0  # iproute2 omits a zero qlen
    d["kind"] = (lk.get("linkinfo") or {}).get("info_kind")
    return d


def diff(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: pycni={a!r} reference={b!r}"]


def assert_same(a: object, b: object, what: str) -> None:
    d = diff(a, b)
    assert not d, f"{what} differs:\n" + "\n".join(d)


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
