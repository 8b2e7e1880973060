"""Plugin fuzzing through the installed executables (no tests here; used by test_fuzz_plugins.py and
bench/fuzz_plugins.py).

For every plugin a valid base config (with a prevResult for the meta plugins) is mutated by tests/fuzz_mutate.py
and run as ADD -> CHECK -> DEL inside a throwaway "host" netns (`ip netns exec`) against a container netns. Each
step must answer the CNI protocol (one JSON object, integer code, no Python exception text, no traceback), a DEL
after a successful ADD must succeed, and after the DEL both namespaces (links, addresses, routes, rules, nft
rules, qdiscs) and the plugin's files (host-local reservations, tuning backups) must be as they were. Namespaces
are named pycni-t-<random>-fz..., made here and deleted in `close()`, which callers run in `finally`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from harness_common import Outcome, exec_plugin, ip, ipj, ns_path, nsx, sh

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fuzz_mutate

Case = fuzz_mutate.Case
PREFIX = "pycni-t-"
NET = "fuzznet"
CID = "fuzzcid"
NO_DBUS = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/pycni-test-bus"}
HOST_VETH = "vfz0"
EXEC_TIMEOUT = 30.0

# Python's own texts: an exception that escaped validation (the class name, or str() of a bare KeyError)
PY_TEXT = re.compile(
    r"\b(Attribute|Type|Key|Index|Value|Name|Overflow|Recursion|ZeroDivision|Assertion|Unicode\w*|Lookup|"
    r"UnboundLocal|NotImplemented|Runtime|struct\.)Error\b|Traceback|format requires|object has no attribute|"
    r"NoneType|not subscriptable|object is not iterable|unhashable type|invalid literal for|unsupported operand|"
    r"not supported between instances|positional argument|list index out of range|codec can't|int too large|"
    r"maximum recursion|argument must be|^error: |^'[^' ]*'$|\bNone\b|\bdict\b|\blist object\b|"
    # Go's "<nil>" as an argument of a tool (iptables -s <nil>); in its own texts the reference prints it too
    r"`<nil>'|\s-[sd] <nil>\b|--to-destination <nil>|saddr <nil>|daddr <nil>")
PER_CONTAINER_CHAIN = re.compile(r"\bCNI-(?:DN-|SN-)?[0-9a-f]{17,}")  # ipmasq's CNI-<hash>, portmap's CNI-DN-<hash>
IP_LITERAL = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b[0-9a-f]{1,4}::?[0-9a-f:]*\b")


# ---------------------------------------------------------------------------------------------
# The protocol invariants of one exec


def protocol_violations(cmd: str, out: Outcome | None) -> list[str]:
    """What is wrong with one plugin answer (empty when it is a proper CNI answer)."""
    if out is None:
        return [f"{cmd}: timed out"]
    bad: list[str] = []
    if "Traceback" in out.stderr or "internal error" in out.stderr:
        bad.append(f"{cmd}: traceback/internal error on stderr: {out.stderr.strip()[-300:]!r}")
    text = out.stdout.strip()
    if out.rc not in (0, 1):
        bad.append(f"{cmd}: exit code {out.rc}")
    if out.rc == 0:
        if cmd == "ADD":
            if not isinstance(out.json, dict) or not isinstance(out.json.get("cniVersion"), str):
                bad.append(f"{cmd}: success without a result object: {text[:300]!r}")
        elif text:
            bad.append(f"{cmd}: success with output {text[:300]!r}")
        return bad
    try:
        doc = json.loads(text)
    except ValueError:
        return bad + [f"{cmd}: failure without one JSON object on stdout: {text[:300]!r}"]
    if not isinstance(doc, dict):
        return bad + [f"{cmd}: failure answer is not an object: {text[:300]!r}"]
    code, msg = doc.get("code"), doc.get("msg")
    if not isinstance(code, int) or isinstance(code, bool):
        bad.append(f"{cmd}: code is not an integer: {code!r}")
    if not isinstance(msg, str):
        bad.append(f"{cmd}: msg is not a string: {msg!r}")
    elif PY_TEXT.search(msg) or PY_TEXT.search(str(doc.get("details", ""))):
        bad.append(f"{cmd}: Python text in msg: {msg[:300]!r}")
    return bad


# ---------------------------------------------------------------------------------------------
# Kernel and disk state


def _addr_ok(a: dict) -> bool:
    return not str(a.get("local", "")).startswith("fe80")


def snapshot(ns: str) -> dict[str, set[str]]:
    """The parts of a namespace a plugin may touch, as sets of canonical strings."""
    links, addrs = set(), set()
    for lk in ipj(ns, "-d", "addr", "show"):
        name = lk["ifname"]
        kind = (lk.get("linkinfo") or {}).get("info_kind", "")
        item: dict[str, Any] = {"ifname": name, "kind": kind, "mtu": lk.get("mtu"), "master": lk.get("master")}
        if name != "lo":
            item.update(address=lk.get("address"), promiscuity=lk.get("promiscuity"),
                        up="UP" in lk.get("flags", []), txqlen=lk.get("txqlen"))
        links.add(json.dumps(item, sort_keys=True))
        for a in lk.get("addr_info", []):
            if name != "lo" and _addr_ok(a):  # lo down/up (loopback DEL/ADD) drops/restores ::1
                addrs.add(f"{name} {a.get('local')}/{a.get('prefixlen')}")
    routes = set()
    for fam in ("-4", "-6"):
        for r in ipj(ns, fam, "route", "show", "table", "all"):
            dst = str(r.get("dst", ""))
            if r.get("table") == "local" or dst.startswith(("fe80", "ff00", "multicast")):
                continue
            routes.add(json.dumps({k: r.get(k) for k in ("dst", "gateway", "dev", "table", "metric", "nexthops",
                                                          "metrics", "type")}, sort_keys=True))
    rules = {json.dumps(r, sort_keys=True) for fam in ("-4", "-6") for r in ipj(ns, fam, "rule", "show")}
    nft = set()
    p = nsx(ns, "nft", "list", "ruleset", check=False)
    for line in p.stdout.splitlines():
        line = re.sub(r"counter packets \d+ bytes \d+", "counter", line.strip())
        if PER_CONTAINER_CHAIN.search(line):  # a per-container chain, its declaration or a jump to it
            nft.add(line)
        elif line.startswith(("table ", "chain ", "type ", "policy ", "}")) or not line:
            continue
        elif IP_LITERAL.search(line) or "id: " in line:
            nft.add(line)
    qdiscs = set()
    out = nsx(ns, "tc", "-j", "qdisc", "show", check=False).stdout.strip()
    for q in json.loads(out) if out else []:
        if q.get("kind") not in ("noqueue", "pfifo_fast", "mq", "fq_codel"):
            qdiscs.add(f"{q.get('dev')} {q.get('kind')} {q.get('handle')} {q.get('parent', 'root')}")
    return {"link": links, "addr": addrs, "route": routes, "rule": rules, "nft": nft, "qdisc": qdiscs}


def files_left(root: str, keep: Callable[[str, str], bool]) -> list[str]:
    """Files under root that `keep(dirpath, name)` does not excuse."""
    out = []
    for dirpath, _dirs, names in os.walk(root):
        if ".pycni-index" in dirpath:
            continue
        out += [os.path.join(dirpath, n) for n in names if not keep(dirpath, n)]
    return sorted(out)


def _hostlocal_keep(_dir: str, name: str) -> bool:
    return name == "lock" or name.startswith("last_reserved_ip")


# ---------------------------------------------------------------------------------------------
# Plugins: base configs and topology


class Spec:
    """How to fuzz one plugin: its kind, base config, and what its world needs."""

    def __init__(self, name: str, kind: str, conf: Callable[[None], dict], *, needs: tuple[str, ...] = (),
                 ignore_kinds: tuple[str, ...] = ()) -> None:
        self.name = name
        self.kind = kind  # "ipam", "main" or "meta"
        self.conf = conf
        self.needs = needs  # "up0" (a parent link in the host), "hd0" (a device to move)
        self.ignore_kinds = ignore_kinds  # link kinds DEL leaves by design (bridge's bridge)


def _hl_ipam(_w: None) -> dict:
    return {"type": "host-local", "dataDir": "@HOSTLOCAL@",
            "ranges": [[{"subnet": "10.9.0.0/24", "rangeStart": "10.9.0.10", "rangeEnd": "10.9.0.20",
                         "gateway": "10.9.0.1"}]],
            # two gateways for one dst: one multipath route, whose per-route metrics must agree
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "10.9.0.1", "mtu": 1400},
                       {"dst": "198.51.100.0/24", "gw": "10.9.0.254", "mtu": 1400}]}


def _static_ipam(_w: None) -> dict:
    return {"type": "static", "addresses": [{"address": "10.9.0.2/24", "gateway": "10.9.0.1"}],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "10.9.0.254"}],
            "dns": {"nameservers": ["10.9.0.53"], "domain": "example.test", "search": ["example.test"]}}


def _base(ptype: str, **kw: Any) -> dict:
    return {"cniVersion": "1.0.0", "name": NET, "type": ptype, **kw}


def prev_result(_w: None = None) -> dict:
    return {"cniVersion": "1.0.0",
            "interfaces": [{"name": HOST_VETH, "mac": "02:00:00:00:09:01"},
                           {"name": "eth0", "mac": "02:00:00:00:09:02", "sandbox": "@NETNS@"}],
            "ips": [{"interface": 1, "address": "10.9.0.2/24", "gateway": "10.9.0.1"},
                    {"interface": 1, "address": "fd00:9::2/64", "gateway": "fd00:9::1"}],
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.9.0.1"}, {"dst": "198.51.100.0/24", "gw": "10.9.0.1"}],
            "dns": {"nameservers": ["10.9.0.53"]}}


def _meta(ptype: str, **kw: Any) -> Callable[[None], dict]:
    return lambda w: dict(_base(ptype, **kw), prevResult=prev_result(w))


SPECS: dict[str, Spec] = {s.name: s for s in [
    Spec("static", "ipam", lambda w: _base("ptp", ipam=dict(_static_ipam(w), addresses=[
        {"address": "10.9.0.2/24", "gateway": "10.9.0.1"}, {"address": "fd00:9::2/64"}]))),
    Spec("host-local", "ipam", lambda w: _base("ptp", ipam=_hl_ipam(w))),
    Spec("ptp", "main", lambda w: _base("ptp", ipMasq=True, mtu=1400, ipam=_hl_ipam(w))),
    Spec("bridge", "main", lambda w: _base("bridge", bridge="fzbr0", isGateway=True, ipMasq=True, hairpinMode=True,
                                           mtu=1400, ipam=_hl_ipam(w)), ignore_kinds=("bridge",)),
    Spec("loopback", "main", lambda w: _base("loopback")),
    Spec("macvlan", "main", lambda w: _base("macvlan", master="up0", mode="bridge", mtu=1400, ipam=_hl_ipam(w)),
         needs=("up0",)),
    Spec("host-device", "main", lambda w: _base("host-device", device="hd0", ipam=_static_ipam(w)), needs=("hd0",)),
    Spec("tap", "main", lambda w: _base("tap", mtu=1400, multiQueue=True, mac="02:00:00:00:09:0a",
                                        ipam=_static_ipam(w))),
    Spec("ipvlan", "main", lambda w: _base("ipvlan", master="up0", mode="l2", ipam=_static_ipam(w)), needs=("up0",)),
    Spec("vlan", "main", lambda w: _base("vlan", master="up0", vlanId=100, mtu=1400, ipam=_static_ipam(w)),
         needs=("up0",)),
    Spec("dummy", "main", lambda w: _base("dummy", mtu=1400, ipam=_static_ipam(w))),
    Spec("tuning", "meta", lambda w: dict(_meta("tuning", mtu=1400, promisc=True, mac="02:00:00:00:09:09",
                                                 txQLen=500, sysctl={"net.ipv4.conf.eth0.arp_ignore": "1"})(w),
                                          dataDir="@TUNING@")),
    Spec("portmap", "meta", _meta("portmap", snat=True, capabilities={"portMappings": True}, runtimeConfig={
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                         {"hostPort": 8053, "containerPort": 53, "protocol": "udp", "hostIP": "192.0.2.2"}]})),
    Spec("bandwidth", "meta", _meta("bandwidth", capabilities={"bandwidth": True}, runtimeConfig={
        "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 8000000,
                      "egressBurst": 80000}})),
    Spec("firewall", "meta", _meta("firewall", backend="iptables")),
    Spec("sbr", "meta", _meta("sbr")),
    Spec("vrf", "meta", _meta("vrf", vrfname="fzvrf")),
]}


# ---------------------------------------------------------------------------------------------
# A world: host + container netns (+ data dirs) for one plugin


class World:
    """The namespaces and directories one plugin is fuzzed in; `close()` deletes all of it."""

    def __init__(self, spec: Spec, bindir: str) -> None:
        self.spec = spec
        self.bindir = bindir
        self.names: list[str] = []
        self.dir = tempfile.mkdtemp(prefix="pycni-fuzz-")
        self.dirs = {"@HOSTLOCAL@": os.path.join(self.dir, "host-local"), "@TUNING@": os.path.join(self.dir, "tuning")}
        try:
            tag = "fz" + spec.name.replace("-", "")[:4]
            self.host = self._ns(tag + "h")
            self.cont = self._ns(tag + "c")
            self.cont_path = ns_path(self.cont)
            self.subst = dict(self.dirs, **{"@NETNS@": self.cont_path})
            if "up0" in spec.needs:
                ip(self.host, "link", "add", "up0", "type", "veth", "peer", "name", "up0p")
                ip(self.host, "link", "set", "up0", "up")
                ip(self.host, "link", "set", "up0p", "up")
            self.ensure_device()
            self.before = self.state()
        except BaseException:
            self.close()
            raise

    def _ns(self, tag: str) -> str:
        name = f"{PREFIX}{os.urandom(4).hex()}-{tag}"
        ip(None, "netns", "add", name)
        self.names.append(name)
        ip(name, "link", "set", "lo", "up")
        return name

    def ensure_device(self) -> None:
        if "hd0" in self.spec.needs and not self._has(self.host, "hd0"):
            ip(self.host, "link", "add", "hd0", "type", "veth", "peer", "name", "hd0p")
            ip(self.host, "link", "set", "hd0", "mtu", "1480")

    @staticmethod
    def _has(ns: str, dev: str) -> bool:
        return sh("ip", "-n", ns, "link", "show", "dev", dev, check=False).returncode == 0

    def close(self) -> None:
        for name in reversed(self.names):
            sh("ip", "netns", "del", name, check=False)
        self.names.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- per case ---------------------------------------------------------------------------

    def attach(self) -> None:
        """For a meta plugin: the container interface its prevResult describes (veth eth0 <-> vfz0)."""
        ip(self.host, "link", "add", HOST_VETH, "address", "02:00:00:00:09:01", "type", "veth", "peer", "name",
           "eth0", "address", "02:00:00:00:09:02", "netns", self.cont)
        ip(self.host, "link", "set", HOST_VETH, "up")
        ip(self.cont, "link", "set", "eth0", "up")
        ip(self.cont, "addr", "add", "10.9.0.2/24", "dev", "eth0")
        ip(self.cont, "addr", "add", "fd00:9::2/64", "dev", "eth0", "nodad")
        ip(self.cont, "route", "add", "default", "via", "10.9.0.1")
        ip(self.cont, "route", "add", "198.51.100.0/24", "via", "10.9.0.1")

    def detach(self) -> None:
        sh("ip", "-n", self.host, "link", "del", HOST_VETH, check=False)
        sh("ip", "-n", self.cont, "link", "del", "eth0", check=False)

    def state(self) -> dict[str, set[str]]:
        st: dict[str, set[str]] = {}
        for where, ns in (("host", self.host), ("cont", self.cont)):
            snap = snapshot(ns)
            ignored = set()
            for item in list(snap["link"]):
                lk = json.loads(item)
                if lk["kind"] in self.spec.ignore_kinds and where == "host":
                    ignored.add(lk["ifname"])
                    snap["link"].discard(item)
            snap["addr"] = {a for a in snap["addr"] if a.split()[0] not in ignored}
            snap["route"] = {r for r in snap["route"] if json.loads(r).get("dev") not in ignored}
            for key, values in snap.items():
                st[f"{where} {key}"] = values
        st["files"] = set(files_left(self.dirs["@HOSTLOCAL@"], _hostlocal_keep)
                         + files_left(self.dirs["@TUNING@"], lambda d, n: False))
        return st

    def leaks(self) -> list[str]:
        after = self.state()
        out = []
        for key in sorted(set(after) | set(self.before)):
            extra = after.get(key, set()) - self.before.get(key, set())
            gone = self.before.get(key, set()) - after.get(key, set())
            out += [f"left behind ({key}): {x}" for x in sorted(extra)]
            out += [f"missing after DEL ({key}): {x}" for x in sorted(gone)]
        return out

    def run(self, cmd: str, stdin: str, cni_args: str) -> Outcome | None:
        for placeholder, value in self.subst.items():
            stdin = stdin.replace(placeholder, value)
        try:
            return exec_plugin(self.host, os.path.join(self.bindir, self.spec.name), cmd, stdin,
                               netns=self.cont_path, cni_path=self.bindir, cid=CID, cni_args=cni_args,
                               extra_env=NO_DBUS, timeout=EXEC_TIMEOUT)
        except Exception as exc:  # subprocess.TimeoutExpired
            if type(exc).__name__ == "TimeoutExpired":
                return None
            raise


PREV_OP = re.compile(r"^(null into|duplicate in|empty|string|huge|drop|type) \.prevResult[.\[]")


def only_inside_prev_result(case: fuzz_mutate.Case) -> bool:
    """Every mutation of the case is inside prevResult (the rest of the config, CNI_ARGS and the JSON are good):
    a meta plugin's DEL must then succeed, whatever it needs from prevResult (ADD refused such a prevResult, so
    there is nothing to undo; a runtime must be able to finish the DEL)."""
    return bool(case.ops) and all(PREV_OP.match(op) for op in case.ops)


class CaseReport:
    def __init__(self, index: int, case: fuzz_mutate.Case) -> None:
        self.index = index
        self.case = case
        self.violations: list[str] = []
        self.outcomes: dict[str, str] = {}

    def __repr__(self) -> str:
        return (f"case {self.index} {self.case!r}\n  " + "\n  ".join(self.violations)
                + "\n  answers: " + json.dumps(self.outcomes)[:1500])


def _short(out: Outcome | None) -> str:
    if out is None:
        return "timeout"
    return f"rc={out.rc} {out.stdout.strip()[:300]}"


def run_case(w: World, index: int, case: fuzz_mutate.Case) -> CaseReport:
    rep = CaseReport(index, case)
    if w.spec.kind == "meta":
        w.attach()
    add = w.run("ADD", case.stdin, case.cni_args)
    rep.outcomes["ADD"] = _short(add)
    rep.violations += protocol_violations("ADD", add)
    # CHECK and DEL get what a runtime would send: the same config with ADD's result as prevResult
    follow = case.stdin
    doc = case.conf()
    if doc is not None and add is not None and add.ok and isinstance(add.json, dict):
        follow = json.dumps(dict(doc, prevResult=add.json))
    for cmd in ("CHECK", "DEL"):
        out = w.run(cmd, follow, case.cni_args)
        rep.outcomes[cmd] = _short(out)
        rep.violations += protocol_violations(cmd, out)
        if cmd == "DEL" and add is not None and add.ok and (out is None or not out.ok):
            rep.violations.append(f"DEL failed after a successful ADD: {_short(out)}")
        elif cmd == "DEL" and w.spec.kind == "meta" and only_inside_prev_result(case) and (out is None or not out.ok):
            rep.violations.append(f"DEL failed on garbage inside prevResult: {_short(out)}")
    if w.spec.kind == "meta":
        w.detach()
    rep.violations += w.leaks()
    return rep


class PluginRun:
    """Counts for one plugin."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases = 0
        self.failed: list[CaseReport] = []
        self.add_ok = 0
        self.seconds = 0.0

    @property
    def violations(self) -> int:
        return len(self.failed)


def fuzz_plugin(name: str, bindir: str, seed: int, count: int, start: int = 0) -> PluginRun:
    """Run cases start..start+count of plugin `name`; a leak rebuilds the world so later cases start clean."""
    spec = SPECS[name]
    res = PluginRun(name)
    t0 = time.monotonic()
    w = World(spec, bindir)
    try:
        for i, case in enumerate(fuzz_mutate.cases(spec.conf(None), seed, start + count, key=name)[start:], start):
            rep = run_case(w, i, case)
            res.cases += 1
            res.add_ok += rep.outcomes.get("ADD", "").startswith("rc=0")
            if rep.violations:
                res.failed.append(rep)
                if any(v.startswith(("left behind", "missing")) for v in rep.violations):
                    w.close()
                    w = World(spec, bindir)
    finally:
        w.close()
    res.seconds = time.monotonic() - t0
    return res
