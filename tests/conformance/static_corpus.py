"""The differential corpus for `static`: every case is one plugin call (environment + stdin).

Built programmatically from small pieces: the command x version matrix, the upstream static test
catalog S1-S14 (ipam-inventory 9.1) for every spec version, CNI_ARGS forms (cni-spec-checklist
E18), environment variables (E08-E10), network names (E11), CHECK with every kind of prevResult
(E01-E03), malformed JSON and wrong JSON types for every field, case-insensitive keys, and the
route fields upstream added after 1.1.1. Each case carries the facts the difference table
(differences.py) needs; nothing here says what the answer should be, except `head_error` for
the few inputs Debian's 1.1.1 ignores but upstream HEAD rejects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MISSING = object()  # a key or variable left out

SPEC_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
# label -> cniVersion value in the config
VERSION_VALUES: dict[str, Any] = {v: v for v in SPEC_VERSIONS}
VERSION_VALUES.update({"missing": MISSING, "empty": "", "1.0": "1.0", "adsfsadf": "adsfsadf", "num1": 1,
                       "0.5.0": "0.5.0", "4parts": "1.0.0.0"})
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS", "add", "NOPE", MISSING)

BASE_ENV = {
    "CNI_CONTAINERID": "dummy",
    "CNI_NETNS": "/some/where",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}

ROUTE_EXTRA_KEYS = ("mtu", "advmss", "priority", "table", "scope")


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    command: str | None
    env: dict[str, str]
    stdin: bytes
    conf: Any = None  # the config as built (None for raw stdin)
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # pytest prints this on failure
        return f"Case({self.id})"


# --- building blocks ------------------------------------------------------------------------

DNS = {"nameservers": ["8.8.8.8"], "domain": "example.com", "search": ["example.com"]}
S1_ADDRESSES = [
    {"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
    {"address": "3ffe:ffff:0:01ff::1/64", "gateway": "3ffe:ffff:0::1"},
]
S1_ROUTES = [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:01ff::1/64"}]
S6_ROUTES = [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "3ffe:ffff:0:01ff::1/64", "gw": "3ffe:ffff:0::1"}]
S1_IPAM = {"type": "static", "addresses": S1_ADDRESSES, "routes": S1_ROUTES, "dns": DNS}


def netconf(version: Any = "1.0.0", ipam: Any = MISSING, name: Any = "mynet", **extra: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {}
    if version is not MISSING:
        conf["cniVersion"] = version
    if name is not MISSING:
        conf["name"] = name
    conf["type"] = "ipvlan"
    conf["master"] = "foo0"
    if ipam is not MISSING:
        conf["ipam"] = ipam
    conf.update(extra)
    return conf


def env_for(command: Any, **over: Any) -> dict[str, str]:
    env = dict(BASE_ENV)
    if command is not MISSING:
        env["CNI_COMMAND"] = command
    for k, v in over.items():
        key = "CNI_" + k.upper() if not k.startswith("CNI_") else k
        if v is MISSING:
            env.pop(key, None)
        else:
            env[key] = v
    return env


def prev_result(version: Any, family: str | None = None, ips: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The S1 ADD result, written in `family`'s layout (default: the family of `version`)."""
    fam = family or _family(version)
    ips = ips if ips is not None else [
        {"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
        {"address": "3ffe:ffff:0:1ff::1/64", "gateway": "3ffe:ffff::1"},
    ]
    out: dict[str, Any] = {}
    if isinstance(version, str):
        out["cniVersion"] = version
    if fam == "02x":
        for ipc in ips:
            key = "ip6" if ":" in ipc["address"] else "ip4"
            if key not in out:
                out[key] = {"ip": ipc["address"], **({"gateway": ipc["gateway"]} if "gateway" in ipc else {})}
    elif fam == "04x":
        out["ips"] = [{"version": "6" if ":" in i["address"] else "4", **i} for i in ips]
    else:
        out["ips"] = list(ips)
    out["dns"] = DNS
    return out


def _family(version: Any) -> str:
    if version in ("1.0.0", "1.1.0"):
        return "1.x"
    if version in ("0.3.0", "0.3.1", "0.4.0"):
        return "04x"
    if version in ("0.1.0", "0.2.0", "", MISSING):
        return "02x"
    return "1.x"


def _route_facts(conf: Any) -> tuple[bool, list[dict[str, Any]] | None, list[int] | None]:
    """(has null routes, HEAD-only route fields per non-null route, pycni weights per route)."""
    ipam = _ci_get(conf, "ipam") if isinstance(conf, dict) else None
    routes = _ci_get(ipam, "routes") if isinstance(ipam, dict) else None
    if not isinstance(routes, list):
        return False, None, None
    nulls = any(r is None for r in routes)
    extras, weights, any_extra, any_weight = [], [], False, False
    for r in routes:
        if not isinstance(r, dict):
            continue
        ex: dict[str, Any] = {}
        for k in ROUTE_EXTRA_KEYS:
            v = _ci_get(r, k)
            if v is MISSING or v is None:
                continue
            any_extra = True
            if not isinstance(v, int) or isinstance(v, bool) or not -(2**63) <= v < 2**63:
                ex = {"invalid": True}
                break
            if k in ("table", "scope") or v != 0:
                ex[k] = v
        extras.append(ex)
        w = _ci_get(r, "weight")
        any_weight = any_weight or w not in (MISSING, None)
        weights.append(w if isinstance(w, int) and not isinstance(w, bool) else 0)
    return nulls, extras if any_extra else None, weights if any_weight else None


def _ci_get(d: dict[str, Any], key: str) -> Any:
    """Go's case-insensitive key lookup: the last key in document order that folds to `key`."""
    found = MISSING
    for k, v in d.items():
        if k.lower() == key.lower():
            found = v
    return found


def _bad_prev_interface(conf: Any) -> bool:
    """A prevResult interface whose 1.1.0-only field (mtu, socketPath, pciID) has a type HEAD rejects."""
    prev = _ci_get(conf, "prevResult") if isinstance(conf, dict) else None
    ifaces = _ci_get(prev, "interfaces") if isinstance(prev, dict) else None
    if not isinstance(ifaces, list):
        return False
    for i in ifaces:
        if not isinstance(i, dict):
            continue
        for k, ok in (("mtu", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
                      ("socketPath", lambda v: isinstance(v, str)), ("pciID", lambda v: isinstance(v, str))):
            v = _ci_get(i, k)
            if v is not MISSING and v is not None and not ok(v):
                return True
    return False


def mentions_110(conf: Any) -> bool:
    if not isinstance(conf, dict):
        return False
    if _ci_get(conf, "cniVersion") == "1.1.0":
        return True
    prev = _ci_get(conf, "prevResult")
    return isinstance(prev, dict) and prev.get("cniVersion") == "1.1.0"


# --- the corpus ------------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        self.cases: list[Case] = []
        self._ids: set[str] = set()

    def add(self, group: str, name: str, command: Any, conf: Any = MISSING, *, stdin: bytes | None = None,
            env: dict[str, str] | None = None, **meta: Any) -> None:
        cid = f"{group}:{name}"
        assert cid not in self._ids, cid
        self._ids.add(cid)
        if env is None:
            env = env_for(command)
        if stdin is None:
            stdin = json.dumps(conf).encode() if conf is not MISSING else b""
        c = None if conf is MISSING else conf
        nulls, extras, weights = _route_facts(c)
        if extras and any(e.get("invalid") for e in extras) and "head_error" not in meta:
            raise AssertionError(f"{cid}: an invalid HEAD-only route field needs head_error")
        if _bad_prev_interface(c) and "head_error" not in meta:
            raise AssertionError(f"{cid}: an invalid HEAD-only interface field in prevResult needs head_error")
        facts = {"null_routes": nulls, "route_extras": extras, "route_weights": weights,
                 "v110": mentions_110(c)}
        facts.update(meta)
        self.cases.append(Case(cid, group, None if command is MISSING else command, env, stdin, c, facts))


def build() -> list[Case]:
    b = _Builder()
    _matrix(b)
    _catalog(b)
    _cni_args(b)
    _environment(b)
    _names(b)
    _check(b)
    _malformed(b)
    _wrong_types(b)
    _case_insensitive(b)
    _route_fields(b)
    _misc(b)
    return b.cases


def _cmd_label(cmd: Any) -> str:
    return "nocommand" if cmd is MISSING else cmd


def _matrix(b: _Builder) -> None:
    """Every command x every spec version (and the bad ones), with S1's config."""
    for cmd in COMMANDS:
        for label, value in VERSION_VALUES.items():
            extra = {}
            if cmd == "CHECK":
                extra["prevResult"] = prev_result(value)
            b.add("matrix", f"{_cmd_label(cmd)}-{label}", cmd, netconf(value, S1_IPAM, **extra))


def _catalog(b: _Builder) -> None:
    """ipam-inventory 9.1, S1-S14, for every spec version (and a missing cniVersion)."""
    s2_ipam = {"type": "static", "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}],
               "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.253"}]}
    s4_ipam = {"type": "static", "routes": S1_ROUTES[:2], "dns": DNS}
    s6_ipam = {"type": "static", "routes": S6_ROUTES, "dns": DNS}
    two_ips = ["10.10.0.1/24", "3ffe:ffff:0:01ff::1/64"]
    for label in (*SPEC_VERSIONS, "missing"):
        v = VERSION_VALUES[label]
        b.add("S1", f"add-{label}", "ADD", netconf(v, S1_IPAM))
        b.add("S1", f"del-{label}", "DEL", netconf(v, S1_IPAM))
        b.add("S2", f"ecmp-add-{label}", "ADD", netconf(v, s2_ipam))
        b.add("S2", f"ecmp-del-{label}", "DEL", netconf(v, s2_ipam))
        b.add("S3", f"del-unknown-{label}", "DEL", netconf(v, S1_IPAM), env=env_for("DEL", containerid="never-added"))
        b.add("S4", f"cni-args-{label}", "ADD", netconf(v, s4_ipam),
              env=env_for("ADD", args="IP=10.10.0.1/24;GATEWAY=10.10.0.254"))
        b.add("S5", f"cni-args-two-{label}", "ADD", netconf(v, {"type": "static"}),
              env=env_for("ADD", args="IP=10.10.0.1/24,11.11.0.1/24;GATEWAY=10.10.0.254"))
        b.add("S6", f"RuntimeConfig-{label}", "ADD",
              netconf(v, s6_ipam, capabilities={"ips": True}, RuntimeConfig={"ips": two_ips}))
        b.add("S7", f"args-{label}", "ADD", netconf(v, s6_ipam, args={"cni": {"ips": two_ips}}))
        b.add("S8", f"precedence-{label}", "ADD",
              netconf(v, s6_ipam, capabilities={"ips": True}, RuntimeConfig={"ips": two_ips},
                      args={"cni": {"ips": ["10.10.0.2/24", "3ffe:ffff:0:01ff::2/64"]}}),
              env=env_for("ADD", args="IP=10.10.0.3/24,11.11.0.3/24;GATEWAY=10.10.0.254"))
        b.add("S9", f"no-ipam-cni-args-{label}", "ADD", netconf(v),
              env=env_for("ADD", args="IP=10.10.0.1/24;GATEWAY=10.10.0.254"))
        b.add("S10", f"no-ipam-runtimeConfig-{label}", "ADD", netconf(v, runtimeConfig={"ips": ["10.10.0.1/24"]}))
        b.add("S11", f"bad-address-{label}", "ADD",
              netconf(v, {"type": "static", "addresses": [{"address": "10.10.0.1"}]}))
        b.add("S12", f"bad-cni-args-ip-{label}", "ADD", netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}),
              env=env_for("ADD", args="IP=10.10.0.1"))
        b.add("S13", f"bad-args-ips-{label}", "ADD",
              netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}, args={"cni": {"ips": ["10.10.0.1"]}}))
        b.add("S14", f"bad-RuntimeConfig-ips-{label}", "ADD",
              netconf(v, {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}, RuntimeConfig={"ips": ["10.10.0.1"]}))
    # IPv6 ECMP and an ECMP default route next to a single-gateway one
    b.add("S2", "ecmp-v6-1.0.0", "ADD", netconf("1.0.0", {
        "type": "static", "addresses": [{"address": "2001:db8::2/64", "gateway": "2001:db8::1"}],
        "routes": [{"dst": "::/0", "gw": "2001:db8::1"}, {"dst": "::/0", "gw": "2001:db8::fe"}]}))
    b.add("S2", "ecmp-three-0.2.0", "ADD", netconf("0.2.0", {
        "type": "static", "addresses": [{"address": "10.10.0.1/24"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "10.1.0.0/16", "gw": "10.10.0.1"},
                   {"dst": "0.0.0.0/0", "gw": "10.10.0.253"}]}))


def _cni_args(b: _Builder) -> None:
    """E18 and static's own IP/GATEWAY forms."""
    forms = {
        "ignoreunknown-foo": "IgnoreUnknown=1;FOO=bar",
        "unknown-foo": "FOO=bar",
        "trailing-semicolon": "IP=10.0.0.2/24;",
        "value-with-equals": "K=a=b",
        "lowercase-ignoreunknown": "ignoreunknown=1;FOO=bar",
        "ignoreunknown-yes": "IgnoreUnknown=yes",
        "ignoreunknown-TRUE": "IgnoreUnknown=TRUE;X=1",
        "ignoreunknown-0": "IgnoreUnknown=0;A=1;B=2",
        "ignoreunknown-false-first": "IgnoreUnknown=false;IP=10.0.0.2/24",
        "bare-key": "IP",
        "semicolon-only": ";",
        "equals-only": "=",
        "empty-ip": "IP=",
        "lowercase-ip": "ip=10.0.0.2/24",
        "commonargs": "CommonArgs=1",
        "ip-twice": "IP=1.2.3.4/24;IP=5.6.7.8/24",
        "ip-no-prefix": "IP=10.0.0.2",
        "ip-empty-item": "IP=10.0.0.2/24,,",
        "ip-spaces": "IP= 10.0.0.2/24 , 10.0.0.3/24",
        "ip-v4-mapped": "IP=::ffff:10.1.1.1/120",
        "ip-leading-zero": "IP=010.0.0.1/24",
        "ip-zone": "IP=fe80::1%eth0/64",
        "ip-prefix-33": "IP=10.0.0.1/33",
        "ip-prefix-leading-zero": "IP=10.0.0.1/024",
        "ip-v6": "IP=2001:db8::5/64;GATEWAY=2001:db8::1",
        "gateway-space-bogus": "IP=10.0.0.2/24;GATEWAY= foo",
        "gateway-only": "GATEWAY=10.10.0.9",
        "gateway-two": "IP=10.0.0.2/24;GATEWAY=10.0.0.1,10.0.0.3",
        "gateway-empty-items": "GATEWAY=,",
        "gateway-outside": "IP=10.0.0.2/24;GATEWAY=192.168.0.1",
        "gateway-v4-mapped": "IP=10.0.0.2/24;GATEWAY=::ffff:10.0.0.1",
    }
    ipam = {"type": "static", "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}]}
    for name, value in forms.items():
        b.add("cniargs", name, "ADD", netconf("1.0.0", ipam), env=env_for("ADD", args=value))
    b.add("cniargs", "unknown-on-check", "CHECK",
          netconf("1.0.0", ipam, prevResult=prev_result("1.0.0")), env=env_for("CHECK", args="FOO=bar"))
    b.add("cniargs", "unknown-on-del", "DEL", netconf("1.0.0", ipam), env=env_for("DEL", args="FOO=bar"))
    b.add("cniargs", "two-v4-legacy-0.2.0", "ADD", netconf("0.2.0", ipam), env=env_for("ADD", args="IP=10.0.0.2/24"))
    b.add("cniargs", "two-v4-missing-version", "ADD", netconf(MISSING, ipam), env=env_for("ADD", args="IP=10.0.0.2/24"))
    b.add("cniargs", "two-v4-empty-version", "ADD", netconf("", ipam), env=env_for("ADD", args="IP=10.0.0.2/24"))


def _environment(b: _Builder) -> None:
    """E08-E10: missing variables, bad container IDs and interface names, and their order."""
    conf = netconf("1.0.0", S1_IPAM)
    variants: dict[str, dict[str, Any]] = {
        "only-command-and-id": {"netns": MISSING, "ifname": MISSING, "path": MISSING},  # E08
        "no-containerid": {"containerid": MISSING},
        "empty-containerid": {"containerid": ""},
        "no-netns": {"netns": MISSING},
        "no-ifname": {"ifname": MISSING},
        "no-path": {"path": MISSING},
        "empty-args": {"args": ""},
        "containerid-dash": {"containerid": "-abc"},
        "containerid-underscore": {"containerid": "_abc"},
        "containerid-dot": {"containerid": ".abc"},
        "containerid-space": {"containerid": "a b"},
        "containerid-slash": {"containerid": "a/b"},
        "containerid-colon": {"containerid": "a:b"},
        "containerid-unicode": {"containerid": "é"},
        "containerid-dollar": {"containerid": "abc$"},
        "containerid-ok-chars": {"containerid": "abc-DEF_1.2"},
        "containerid-newline": {"containerid": "abc\n"},
        "containerid-long": {"containerid": "a" * 300},
        "containerid-invalid-utf8": {"containerid": "a\udcff"},  # the byte 0xff
        "ifname-invalid-utf8": {"ifname": "eth\udcff"},
        "ifname-16": {"ifname": "1234567890123456"},
        "ifname-15": {"ifname": "123456789012345"},
        "ifname-colon": {"ifname": "eth0:1"},
        "ifname-slash": {"ifname": "eth/0"},
        "ifname-dot": {"ifname": "."},
        "ifname-dotdot": {"ifname": ".."},
        "ifname-a.b": {"ifname": "a.b"},
        "ifname-space": {"ifname": "eth 0"},
        "ifname-tab": {"ifname": "eth\t0"},
        "ifname-nbsp": {"ifname": "eth\u00a00"},
        "ifname-ideographic-space": {"ifname": "e\u30000"},
        "ifname-x1c": {"ifname": "eth\x1c0"},
        "ifname-multibyte-16-bytes": {"ifname": "ethééééééé"},
        "ifname-symbols": {"ifname": "@#!"},
        "bad-id-and-missing-path": {"containerid": "-abc", "path": MISSING},
        "bad-ifname-and-missing-netns": {"ifname": ".", "netns": MISSING},
        "bad-id-and-bad-ifname": {"containerid": "-abc", "ifname": "."},
        "empty-id-and-bad-ifname": {"containerid": "", "ifname": "."},
        "everything-missing": {"containerid": MISSING, "netns": MISSING, "ifname": MISSING, "path": MISSING},
    }
    for cmd in ("ADD", "DEL", "CHECK"):
        c = dict(conf, prevResult=prev_result("1.0.0")) if cmd == "CHECK" else conf
        for name, over in variants.items():
            if cmd != "ADD" and name.startswith(("containerid-ok", "containerid-long", "ifname-symbols", "ifname-a.b",
                                                 "ifname-15", "empty-args", "containerid-newline")):
                continue
            b.add("env", f"{cmd}-{name}", cmd, c, env=env_for(cmd, **over))
    # E15: DEL without CNI_NETNS, never added
    b.add("env", "DEL-no-netns-no-prevresult-E15", "DEL", netconf("1.0.0", {"type": "static"}),
          env=env_for("DEL", netns=MISSING))
    # the netns self-check only looks at a namespace that can be opened; these cannot
    b.add("env", "ADD-netns-empty-dir", "ADD", conf, env=env_for("ADD", netns="/"))
    b.add("env", "ADD-netns-override", "ADD", conf, env=env_for("ADD", netns_override="true"))
    # the bad-name / bad-id order
    b.add("env", "ADD-bad-id-bad-name", "ADD", netconf("1.0.0", S1_IPAM, name="te%st"),
          env=env_for("ADD", containerid="-x"))
    b.add("env", "DEL-bad-ifname-bad-json", "DEL", stdin=b"not json", env=env_for("DEL", ifname="."))
    # VERSION and unknown commands need nothing but CNI_COMMAND
    bare = {"CNI_COMMAND": "VERSION"}
    b.add("env", "VERSION-bare-env", "VERSION", stdin=b'{"cniVersion":"0.4.0"}', env=bare)
    b.add("env", "VERSION-garbage-stdin", "VERSION", stdin=b"garbage", env=bare)
    b.add("env", "NOPE-bare-env", "NOPE", conf, env={"CNI_COMMAND": "NOPE"})
    b.add("env", "GC-bare-env", "GC", netconf("1.1.0"), env={"CNI_COMMAND": "GC"})
    b.add("env", "GC-path-only", "GC", netconf("1.1.0"), env={"CNI_COMMAND": "GC", "CNI_PATH": "/opt/cni/bin"})
    b.add("env", "STATUS-path-only", "STATUS", netconf("1.1.0"),
          env={"CNI_COMMAND": "STATUS", "CNI_PATH": "/opt/cni/bin"})
    b.add("env", "STATUS-bad-ifname", "STATUS", netconf("1.1.0"), env=env_for("STATUS", ifname="a:b"))
    b.add("env", "empty-command", "", conf, env=env_for(""))
    b.add("env", "no-command-bare", None, stdin=b"", env={})


def _names(b: _Builder) -> None:
    """E11: the network name."""
    names: dict[str, Any] = {
        "missing": MISSING, "empty": "", "percent": "te%st", "space": "my net", "dash-first": "-net",
        "dot-first": ".net", "unicode": "nét", "number": 5, "null": None, "array": ["mynet"],
        "ok-chars": "My.net_1-2", "newline": "mynet\n",
    }
    for label, name in names.items():
        b.add("name", f"ADD-{label}", "ADD", netconf("1.0.0", S1_IPAM, name=name))
    for label in ("missing", "percent", "number"):
        b.add("name", f"DEL-{label}", "DEL", netconf("1.0.0", S1_IPAM, name=names[label]))
        b.add("name", f"GC-{label}", "GC", netconf("1.1.0", S1_IPAM, name=names[label]))
        b.add("name", f"NOPE-{label}", "NOPE", netconf("1.0.0", S1_IPAM, name=names[label]))
    b.add("name", "duplicate-key-last-wins", "ADD",
          stdin=b'{"cniVersion":"1.0.0","name":"te%st","ipam":{"type":"static"},"name":"mynet"}')
    b.add("name", "Name-capitalised", "ADD", stdin=b'{"cniVersion":"1.0.0","NAME":"mynet","ipam":{"type":"static"}}')


def _check(b: _Builder) -> None:
    """CHECK with every kind of prevResult (E01-E03), for the versions that allow CHECK."""
    ipam = S1_IPAM
    v4_only = [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}]
    cases: dict[str, tuple[str, Any]] = {
        "match-1.0.0": ("1.0.0", prev_result("1.0.0")),
        "match-1.1.0": ("1.1.0", prev_result("1.1.0")),
        "match-0.4.0": ("0.4.0", prev_result("0.4.0")),
        "prev-0.3.1-under-0.4.0": ("0.4.0", prev_result("0.3.1")),
        "prev-0.3.0-under-0.4.0": ("0.4.0", prev_result("0.3.0")),
        "prev-no-version-1.0.0": ("1.0.0", prev_result(MISSING, "1.x")),
        "prev-no-version-1.1.0-E03": ("1.1.0", prev_result(MISSING, "1.x")),
        "prev-empty-version-1.1.0-E03": ("1.1.0", prev_result("", "1.x")),
        "prev-no-version-0.4.0": ("0.4.0", prev_result(MISSING, "04x")),
        "prev-0.3.1-under-1.0.0-E01": ("1.0.0", prev_result("0.3.1")),
        "prev-0.3.1-under-1.1.0-E01": ("1.1.0", prev_result("0.3.1")),
        "prev-1.0.0-under-1.1.0-E02": ("1.1.0", prev_result("1.0.0")),
        "prev-1.1.0-under-1.0.0": ("1.0.0", prev_result("1.1.0")),
        "prev-1.0.0-under-0.4.0": ("0.4.0", prev_result("1.0.0")),
        "prev-0.2.0-under-0.4.0": ("0.4.0", prev_result("0.2.0")),
        "prev-0.2.0-under-1.0.0": ("1.0.0", prev_result("0.2.0")),
        "prev-unknown-version": ("1.0.0", prev_result("9.9.9", "1.x")),
        "gateway-mismatch": ("1.0.0", prev_result("1.0.0", ips=[{"address": "10.10.0.1/24", "gateway": "10.10.0.253"}])),
        "v6-gateway-mismatch": ("1.0.0", prev_result("1.0.0", ips=[{"address": "3ffe:ffff:0:1ff::1/64"}])),
        "prefix-differs-not-checked": ("1.0.0", prev_result("1.0.0", ips=[{"address": "10.10.0.1/16", "gateway": "10.10.0.254"}])),
        "address-missing-not-checked": ("1.0.0", prev_result("1.0.0", ips=[])),
        "only-v4-present": ("1.0.0", prev_result("1.0.0", ips=v4_only)),
        "first-match-wins": ("1.0.0", prev_result("1.0.0", ips=[
            {"address": "10.10.0.1/24", "gateway": "10.10.0.254"}, {"address": "10.10.0.1/24", "gateway": "1.1.1.1"}])),
        "prev-empty-object": ("1.0.0", {}),
        "prev-null": ("1.0.0", None),
        "prev-missing": ("1.0.0", MISSING),
        "prev-string": ("1.0.0", "x"),
        "prev-array": ("1.0.0", []),
        "prev-version-number": ("1.0.0", {"cniVersion": 5}),
        "prev-CNIVersion-key": ("1.0.0", {"CNIVersion": "0.3.1", "ips": prev_result("0.4.0")["ips"]}),
        "prev-CNIVersion-and-cniVersion": ("1.0.0", {"CNIVersion": "1.0.0", "cniVersion": "0.3.1"}),
        "prev-bad-address": ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "bogus"}]}),
        "prev-address-no-prefix-E23": ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "10.10.0.1"}]}),
        "prev-bad-gateway-E23": ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "10.10.0.1/24", "gateway": "bogus"}]}),
        "prev-null-address": ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": None}]}),
        "prev-ips-string-element": ("1.0.0", {"cniVersion": "1.0.0", "ips": ["x"]}),
        "prev-ips-string-element-0.4.0": ("0.4.0", {"cniVersion": "0.4.0", "ips": ["x"]}),
        "prev-routes-string-element": ("1.0.0", {"cniVersion": "1.0.0", "routes": ["x"]}),
        "prev-bad-route-dst": ("1.0.0", {"cniVersion": "1.0.0", "routes": [{"dst": "x"}]}),
        "prev-interfaces-string": ("1.0.0", {"cniVersion": "1.0.0", "interfaces": ["x"]}),
        "prev-interfaces-name-number": ("1.0.0", {"cniVersion": "1.0.0", "interfaces": [{"name": 5}]}),
        "prev-interfaces-1.1.0-fields": ("1.0.0", {"cniVersion": "1.0.0", "interfaces": [
            {"name": "eth0", "mtu": 1500, "socketPath": "/s", "pciID": "0000:00:01.0"}], "ips": prev_result("1.0.0")["ips"]}),
        "prev-dns-string": ("1.0.0", {"cniVersion": "1.0.0", "dns": "x"}),
        "prev-dns-nameservers-string": ("1.0.0", {"cniVersion": "1.0.0", "dns": {"nameservers": "x"}}),
        "prev-interface-index-string": ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "10.10.0.1/24", "interface": "x"}]}),
        "prev-interface-index-1.5": ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "10.10.0.1/24", "interface": 1.5}]}),
        "prev-two-errors-abort-wins": ("1.0.0", {"cniVersion": "1.0.0", "dns": "x",
                                                 "ips": [{"address": "10.10.0.1/24", "gateway": "bogus"}]}),
        "prev-unknown-keys": ("1.0.0", dict(prev_result("1.0.0"), extra={"a": 1}, routes=[{"dst": "0.0.0.0/0", "x": 1}])),
        "prev-0.2.0-ip4-only-under-0.4.0": ("0.4.0", {"cniVersion": "0.2.0", "ip4": {"ip": "10.10.0.1/24"}}),
    }
    for name, (ver, prev) in cases.items():
        extra = {} if prev is MISSING else {"prevResult": prev}
        b.add("check", name, "CHECK", netconf(ver, ipam, **extra))
    # number forms in prevResult survive Go's map[string]interface{} round trip
    for name, num in (("prev-interface-1.0", "1.0"), ("prev-interface-1e2", "1e2"), ("prev-interface-1e30", "1e30"),
                      ("prev-route-mtu-1.0", None)):
        if num is None:
            stdin = (b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static"},"prevResult":'
                     b'{"cniVersion":"1.0.0","routes":[{"dst":"0.0.0.0/0","mtu":1.0}]}}')
        else:
            stdin = ('{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":"10.0.0.1/24",'
                     '"gateway":"10.0.0.9"}]},"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24",'
                     f'"interface":{num}}}]}}}}').encode()
        b.add("check", name, "CHECK", stdin=stdin)
    # the config itself is decoded as types.NetConf after LoadIPAMConfig
    for name, extra in (("netconf-capabilities-string", {"capabilities": {"ips": "yes"}}),
                        ("netconf-top-dns-string", {"dns": "x"}),
                        ("netconf-ipam-type-number", {"ipam": {"type": 5}})):
        conf = netconf("1.0.0", ipam, prevResult=prev_result("1.0.0"))
        conf.update(extra)
        b.add("check", name, "CHECK", conf)
    b.add("check", "cni-args-gateway-mismatch", "CHECK",
          netconf("1.0.0", {"type": "static"}, prevResult=prev_result("1.0.0")),
          env=env_for("CHECK", args="IP=10.10.0.1/24;GATEWAY=10.10.0.9"))
    b.add("check", "RuntimeConfig-no-gateway-check", "CHECK",
          netconf("1.0.0", {"type": "static"}, RuntimeConfig={"ips": ["10.10.0.1/24"]}, prevResult=prev_result("1.0.0")))
    b.add("check", "no-ipam", "CHECK", netconf("1.0.0", prevResult=prev_result("1.0.0")))
    b.add("check", "legacy-0.3.1", "CHECK", netconf("0.3.1", ipam, prevResult=prev_result("0.3.1")))  # E06


def _malformed(b: _Builder) -> None:
    """Stdin that is not a JSON object, or not JSON at all."""
    texts = {
        "not-json": b"not json",
        "empty": b"",
        "whitespace": b"  \n ",
        "truncated": b'{"cniVersion":"1.0.0","name":"mynet"',
        "trailing-garbage": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static"}} x',
        "two-documents": b'{"name":"mynet"}{"name":"mynet"}',
        "trailing-comma": b'{"cniVersion":"1.0.0","name":"mynet",}',
        "single-quotes": b"{'name':'mynet'}",
        "bom": b'\xef\xbb\xbf{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static"}}',
        "nan": b'{"cniVersion":"1.0.0","name":"mynet","x":NaN}',
        "bad-literal": b'{"cniVersion":"1.0.0","name":"mynet","x":tru}',
        "bad-escape": b'{"cniVersion":"1.0.0","name":"my\\qnet"}',
        "control-char": b'{"cniVersion":"1.0.0","name":"my\x01net"}',
        "minus-only": b'{"name":"mynet","x":-}',
        "missing-colon": b'{"name" "mynet"}',
        "array": b"[1]",
        "string": b'"mynet"',
        "number": b"5",
        "null": b"null",
        "true": b"true",
        "invalid-utf8-in-string": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"a\xffb"}}}',
        "escaped-html": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"<a&b>"}}}',
        "number-dot": b'{"name":"mynet","x":1.}',
        "number-exponent": b'{"name":"mynet","x":1e+}',
        "number-two-dots": b'{"name":"mynet","x":1.5.3}',
        "eof-in-literal": b'{"name":"mynet","x":nul',
        "eof-in-number": b'{"name":"mynet","x":-',
        "eof-in-escape": b'{"name":"mynet","x":"\\',
        "eof-in-u-escape": b'{"name":"mynet","x":"\\u12',
        "bad-u-escape": b'{"name":"mynet","x":"\\u12x4"}',
        "leading-zero-number": b'{"name":"mynet","x":01}',
        "array-missing-comma": b'{"name":"mynet","x":[1 2]}',
        "invalid-byte-first": b"\xff",
        "invalid-byte-in-name": b'{"cniVersion":"1.0.0","name":"my\xffnet"}',
        "non-ascii-value": b'{"name":"mynet","x":\xc3\xa9}',
        "nbsp-after-document": b'{"name":"mynet"}\xc2\xa0',
        "minus-infinity": b'[1,-Infinity]',
        "del-in-name": b'{"cniVersion":"1.0.0","name":"my\x7fnet"}',
        "nul-in-string": b'{"name":"my\x00net"}',
        "bell": b"\x07",
        "truncated-utf8-in-string": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"\xe2\x82"}}}',
        "nesting-5000": b'{"name":"mynet","x":' + b"[" * 5000 + b"]" * 5000 + b"}",  # Go allows 10000 levels
        "nesting-10001": b'{"name":"mynet","x":' + b"[" * 10000 + b"]" * 10000 + b"}",
        "unicode-escape": b'{"cniVersion":"1.0.0","name":"m\\u0079net","ipam":{"type":"static"}}',
        "lone-surrogate-escape": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"a\\ud800b"}}}',
        "surrogate-pair-escape": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"\\ud83d\\ude00"}}}',
        "control-escapes-out": b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"\\b\\f\\u2028\\u007f"}}}',
    }
    for name, stdin in texts.items():
        b.add("malformed", f"ADD-{name}", "ADD", stdin=stdin)
    # cut one document at every few bytes: the end of input inside every kind of token
    doc = (b'{"cniVersion":"1.0.0","name":"my\\u00d6\\udb45\\udc93n","x":[[1e+21],false,"\\\\","a\\"b",'
           b'-0.5e-3,true,null,{"k":[]},12.5E+7]}')
    for cut in range(1, len(doc), 3):
        b.add("malformed", f"ADD-cut-at-{cut}", "ADD", stdin=doc[:cut])
    for name in ("not-json", "empty", "null", "array"):
        b.add("malformed", f"DEL-{name}", "DEL", stdin=texts[name])
        b.add("malformed", f"CHECK-{name}", "CHECK", stdin=texts[name])
        b.add("malformed", f"NOPE-{name}", "NOPE", stdin=texts[name])


def _wrong_types(b: _Builder) -> None:
    """A wrong JSON type (or a bad value) for every field static reads."""
    a1 = [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}]

    def ip(**kw: Any) -> dict[str, Any]:
        d = {"type": "static", "addresses": a1}
        d.update(kw)
        return d

    confs: dict[str, Any] = {
        "ipam-string": netconf("1.0.0", "x"),
        "ipam-array": netconf("1.0.0", []),
        "ipam-number": netconf("1.0.0", 5),
        "ipam-null": netconf("1.0.0", None),
        "ipam-empty": netconf("1.0.0", {}),
        "ipam-type-number": netconf("1.0.0", {"type": 5}),
        "addresses-string": netconf("1.0.0", {"type": "static", "addresses": "x"}),
        "addresses-object": netconf("1.0.0", {"type": "static", "addresses": {"address": "10.0.0.1/24"}}),
        "addresses-string-element": netconf("1.0.0", {"type": "static", "addresses": ["10.0.0.1/24"]}),
        "addresses-null-element": netconf("1.0.0", {"type": "static", "addresses": [None]}),
        "addresses-null": netconf("1.0.0", {"type": "static", "addresses": None}),
        "address-number": netconf("1.0.0", {"type": "static", "addresses": [{"address": 5}]}),
        "address-missing": netconf("1.0.0", {"type": "static", "addresses": [{"gateway": "10.0.0.1"}]}),
        "address-prefix-33": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/33"}]}),
        "address-v6-prefix-129": netconf("1.0.0", {"type": "static", "addresses": [{"address": "::1/129"}]}),
        "address-leading-zero": netconf("1.0.0", {"type": "static", "addresses": [{"address": "010.0.0.1/24"}]}),
        "address-zone": netconf("1.0.0", {"type": "static", "addresses": [{"address": "fe80::1%eth0/64"}]}),
        "address-plus-prefix": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/+24"}]}),
        "address-v4-mapped": netconf("1.0.0", {"type": "static", "addresses": [{"address": "::ffff:10.10.0.1/120"}]}),
        "address-v4-mapped-short-prefix": netconf("0.4.0", {"type": "static", "addresses": [{"address": "::ffff:10.10.0.1/64"}]}),
        "address-host-bits": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.10.0.1/0"}]}),
        "address-v6-text": netconf("1.0.0", {"type": "static", "addresses": [{"address": "2001:0db8:0000:0000:0000:0000:0000:0001/64"}]}),
        "address-Address-string": netconf("1.0.0", {"type": "static", "addresses": [{"Address": "x"}]}),
        "address-Address-struct": netconf("1.0.0", {"type": "static", "addresses": [
            {"address": "10.0.0.1/24", "Address": {"IP": "10.0.0.5", "Mask": "////AA=="}}]}),
        "address-Address-struct-only": netconf("0.4.0", {"type": "static", "addresses": [
            {"Address": {"IP": "10.0.0.5", "Mask": "////AA=="}}]}),
        "address-Address-struct-no-mask": netconf("1.0.0", {"type": "static", "addresses": [{"Address": {"IP": "10.0.0.5"}}]}),
        "address-Address-struct-no-mask-0.2.0": netconf("0.2.0", {"type": "static", "addresses": [
            {"Address": {"IP": "10.0.0.5"}}]}),
        "address-Address-struct-no-mask-0.4.0": netconf("0.4.0", {"type": "static", "addresses": [
            {"Address": {"IP": "10.0.0.5"}}, {"Address": {"IP": "2001:db8::5", "Mask": "////AA=="}}]}),
        "address-Address-struct-odd-mask": netconf("1.0.0", {"type": "static", "addresses": [
            {"Address": {"IP": "10.0.0.5", "Mask": "/wD/AA=="}}]}),
        "address-Address-bad-ip": netconf("1.0.0", {"type": "static", "addresses": [{"Address": {"IP": "bogus"}}]}),
        "address-version-key": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "version": "9"}]}),
        "address-version-number": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "version": 9}]}),
        "gateway-number": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "gateway": 5}]}),
        "gateway-bogus": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "gateway": "bogus"}]}),
        "gateway-leading-zero": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "gateway": "010.0.0.1"}]}),
        "gateway-zone": netconf("1.0.0", {"type": "static", "addresses": [{"address": "fe80::2/64", "gateway": "fe80::1%eth0"}]}),
        "gateway-empty": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "gateway": ""}]}),
        "gateway-other-family": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "gateway": "2001:db8::1"}]}),
        "gateway-v4-mapped": netconf("1.0.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24", "gateway": "::ffff:10.0.0.9"}]}),
        "routes-string": netconf("1.0.0", ip(routes="x")),
        "routes-string-element": netconf("1.0.0", ip(routes=["x"])),
        "routes-number-element": netconf("1.0.0", ip(routes=[5])),
        "routes-null-element": netconf("1.0.0", ip(routes=[None])),
        "routes-null-element-0.4.0": netconf("0.4.0", ip(routes=[{"dst": "1.0.0.0/8"}, None])),
        "routes-null-element-0.2.0": netconf("0.2.0", ip(routes=[None])),
        "route-empty-object": netconf("1.0.0", ip(routes=[{}])),
        "route-empty-object-0.2.0": netconf("0.2.0", {"type": "static", "addresses": [
            {"address": "1.2.3.4/24"}, {"address": "::1/64"}], "routes": [{}]}),
        "route-dst-number": netconf("1.0.0", ip(routes=[{"dst": 5}])),
        "route-dst-null": netconf("1.0.0", ip(routes=[{"dst": None}])),
        "route-dst-bogus": netconf("1.0.0", ip(routes=[{"dst": "bogus"}])),
        "route-dst-no-prefix": netconf("1.0.0", ip(routes=[{"dst": "10.0.0.0"}])),
        "route-gw-number": netconf("1.0.0", ip(routes=[{"dst": "0.0.0.0/0", "gw": 5}])),
        "route-gw-bogus": netconf("1.0.0", ip(routes=[{"dst": "0.0.0.0/0", "gw": "bogus"}])),
        "route-gw-empty": netconf("1.0.0", ip(routes=[{"dst": "0.0.0.0/0", "gw": ""}])),
        "route-v6-dst-v4-gw-0.2.0": netconf("0.2.0", ip(routes=[{"dst": "::/0", "gw": "10.0.0.1"}])),
        "dns-string": netconf("1.0.0", ip(dns="x")),
        "dns-null": netconf("1.0.0", ip(dns=None)),
        "dns-nameservers-string": netconf("1.0.0", ip(dns={"nameservers": "x"})),
        "dns-nameservers-number-element": netconf("1.0.0", ip(dns={"nameservers": [5]})),
        "dns-nameservers-null-element": netconf("1.0.0", ip(dns={"nameservers": [None, "1.1.1.1"]})),
        "dns-domain-number": netconf("1.0.0", ip(dns={"domain": 5})),
        "dns-search-array-of-number": netconf("1.0.0", ip(dns={"search": [1]})),
        "dns-options-object": netconf("1.0.0", ip(dns={"options": {}})),
        "dns-all-fields-0.3.1": netconf("0.3.1", ip(dns={"nameservers": ["1.1.1.1", "2001:db8::53"], "domain": "d",
                                                        "search": ["a", "b"], "options": ["ndots:2"]})),
        "dns-empty-lists": netconf("1.0.0", ip(dns={"nameservers": [], "search": [], "options": [], "domain": ""})),
        "runtimeConfig-string": netconf("1.0.0", ip(), runtimeConfig="x"),
        "runtimeConfig-null": netconf("1.0.0", ip(), runtimeConfig=None),
        "runtimeConfig-ips-string": netconf("1.0.0", ip(), runtimeConfig={"ips": "x"}),
        "runtimeConfig-ips-number-element": netconf("1.0.0", ip(), runtimeConfig={"ips": [5]}),
        "runtimeConfig-ips-empty": netconf("1.0.0", ip(), runtimeConfig={"ips": []}),
        "runtimeConfig-ips-bogus": netconf("1.0.0", ip(), runtimeConfig={"ips": ["bogus"]}),
        "args-string": netconf("1.0.0", ip(), args="x"),
        "args-null": netconf("1.0.0", ip(), args=None),
        "args-cni-string": netconf("1.0.0", ip(), args={"cni": "x"}),
        "args-cni-ips-string": netconf("1.0.0", ip(), args={"cni": {"ips": "x"}}),
        "args-cni-ips-number-element": netconf("1.0.0", ip(), args={"cni": {"ips": [5]}}),
        "args-cni-ips-empty": netconf("1.0.0", ip(), args={"cni": {"ips": []}}),
        "args-other-keys-ignored": netconf("1.0.0", ip(), args={"cni": {"labels": [{"key": "a", "value": "b"}]}, "x": 1}),
        "cniVersion-null": netconf(None, ip()),
        "cniVersion-object": netconf({}, ip()),
        "cniVersion-bool": netconf(True, ip()),
        "type-error-then-bad-cidr": netconf("1.0.0", {"type": 5, "routes": [{"dst": "bogus"}]}),
        "type-error-then-bad-ip": netconf("1.0.0", {"type": 5, "addresses": [{"address": "10.0.0.1/24", "gateway": "bogus"}]}),
        "type-error-then-type-error": netconf("1.0.0", {"type": 5, "addresses": [{"address": "10.0.0.1/24", "gateway": 7}]}),
        "bad-cidr-then-type-error": netconf("1.0.0", {"routes": [{"dst": "bogus"}], "type": 5}),
        "two-v4-0.1.0": netconf("0.1.0", {"type": "static", "addresses": [{"address": "10.0.0.1/24"}, {"address": "10.0.0.2/24"}]}),
        "two-v6-0.2.0": netconf("0.2.0", {"type": "static", "addresses": [{"address": "::1/64"}, {"address": "::2/64"}]}),
        "no-ips-0.1.0": netconf("0.1.0", {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}),
        "no-ips-0.3.0": netconf("0.3.0", {"type": "static", "routes": [{"dst": "0.0.0.0/0"}]}),
        "only-v6-0.2.0-v4-route-dropped": netconf("0.2.0", {"type": "static", "addresses": [{"address": "2001:db8::2/64"}],
                                                            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}),
        "unknown-keys-ignored": netconf("1.0.0", ip(dataDir="/x", ranges=[[{"subnet": "1.2.3.0/24"}]]), foo={"bar": [1]}),
        "capabilities-and-runtimeConfig-other": netconf("1.0.0", ip(), capabilities={"portMappings": True},
                                                        runtimeConfig={"portMappings": [{"hostPort": 1}]}),
        "big-integer-ignored": netconf("1.0.0", ip(), bigint=9007199254740993),
    }
    for name, conf in confs.items():
        b.add("types", name, "ADD", conf)
    b.add("types", "del-ignores-broken-ipam", "DEL", netconf("1.0.0", "x"))
    b.add("types", "del-without-ipam", "DEL", netconf("1.0.0"))
    b.add("types", "cniVersion-CNIVersion-key", "ADD",
          stdin=b'{"CNIVersion":"0.2.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":"10.0.0.1/24"}]}}')
    b.add("types", "address-Address-mask-array", "ADD",
          stdin=b'{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":'
                b'[{"Address":{"IP":"10.0.0.5","Mask":[255,255,0,0]}}]}}')


def _case_insensitive(b: _Builder) -> None:
    """Go matches JSON keys to fields case-insensitively; the last matching key wins."""
    raw = {
        "IPAM-Addresses-ADDRESS-GateWay": '{"cniVersion":"1.0.0","name":"mynet","IPAM":{"type":"static","Addresses":'
                                          '[{"ADDRESS":"10.0.0.1/24","GateWay":"10.0.0.2"}],"ROUTES":[{"DST":"1.0.0.0/8",'
                                          '"GW":"10.0.0.3"}],"DNS":{"NameServers":["1.1.1.1"],"Domain":"x","SEARCH":["y"]}}}',
        "duplicate-ipam-last-wins": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":'
                                    '"10.0.0.1/24"}]},"ipam":{"type":"static","addresses":[{"address":"10.0.0.2/24"}]}}',
        "ipam-then-IPAM-null": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":'
                               '"10.0.0.1/24"}]},"IPAM":null}',
        "dns-then-DNS-null-kept": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":"d"},'
                                  '"DNS":null}}',
        "gateway-then-Gateway-null": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":'
                                     '"10.0.0.1/24","gateway":"10.0.0.2","Gateway":null}]}}',
        "RUNTIMECONFIG-IPS": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static"},"RUNTIMECONFIG":{"IPS":["10.0.0.7/24"]}}',
        "Args-CNI-IPS": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static"},"Args":{"CNI":{"IPS":["10.0.0.8/24"]}}}',
        "cniversion-lowercase-key": '{"cniversion":"0.2.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":"10.0.0.1/24"}]}}',
        "two-version-keys-last-wins": '{"cniVersion":"0.2.0","CNIVERSION":"1.0.0","name":"mynet","ipam":{"type":"static"}}',
        "routes-mixed-case-keys": '{"cniVersion":"0.4.0","name":"mynet","ipam":{"type":"static","Routes":[{"Dst":"10.0.0.0/8",'
                                  '"gW":"10.0.0.1"}]}}',
    }
    # A repeated key is decoded into what the first one set (structs and maps merge, slice elements
    # are decoded in place), and a later null leaves a string alone.
    raw.update({
        "repeat-ipam-merges": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":'
                              '"10.0.0.1/24","gateway":"10.0.0.9"}]},"IPAM":{"routes":[{"dst":"0.0.0.0/0"}],'
                              '"addresses":[{"address":"10.0.0.2/24"}]}}',
        "repeat-addresses-in-place": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":['
                                     '{"address":"10.0.0.1/24"},{"address":"10.0.0.3/24"}],"addresses":[{"gateway":'
                                     '"10.0.0.9"}]}}',
        "repeat-addresses-empty": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{"address":'
                                  '"10.0.0.1/24"}],"addresses":[]}}',
        "repeat-routes-replaced": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","routes":[{"dst":'
                                  '"1.0.0.0/8","gw":"1.1.1.1"}],"routes":[{"dst":"2.0.0.0/8"}]}}',
        "repeat-dns-merges-null-ignored": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","dns":{"domain":'
                                          '"d","search":["a"]},"DNS":{"nameservers":["1.1.1.1"]},"dns":null}}',
        "repeat-gateway-null-resets": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","addresses":[{'
                                      '"address":"10.0.0.1/24","gateway":"10.0.0.9","gateway":null}]}}',
        "repeat-name-null-ignored": '{"cniVersion":"1.0.0","name":"mynet","name":null,"ipam":{"type":"static"}}',
        "repeat-args-merges": '{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static"},"args":{"cni":{"ips":'
                              '["10.0.0.5/24"]}},"args":{"x":1}}',
    })
    for name, text in raw.items():
        b.add("keys", name, "ADD", json.loads(text), stdin=text.encode())
    for label in ("0.1.0", "0.3.1", "1.0.0", "1.1.0"):
        b.add("keys", f"RuntimeConfig-capital-{label}", "ADD",
              netconf(label, {"type": "static"}, RuntimeConfig={"ips": ["10.10.0.1/24"]}))


def _route_fields(b: _Builder) -> None:
    """Route fields upstream added after 1.1.1 (mtu, advmss, priority, table, scope)."""
    full = {"dst": "0.0.0.0/0", "gw": "10.10.0.254", "mtu": 1300, "advmss": 1200, "priority": 10, "table": 100,
            "scope": 0}
    zeros = {"dst": "10.1.0.0/16", "mtu": 0, "advmss": 0, "priority": 0, "table": 0, "scope": 0}
    addr = [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}]
    for label in ("0.2.0", "0.4.0", "1.0.0", "1.1.0"):
        b.add("routefields", f"all-{label}", "ADD", netconf(label, {"type": "static", "addresses": addr,
                                                                   "routes": [full, zeros]}))
    b.add("routefields", "scope-link-ecmp-1.0.0", "ADD", netconf("1.0.0", {"type": "static", "addresses": addr, "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.10.0.254", "priority": 5}, {"dst": "0.0.0.0/0", "gw": "10.10.0.253", "priority": 5},
        {"dst": "10.2.0.0/16", "scope": 253}]}))
    b.add("routefields", "huge-priority-1.0.0", "ADD", netconf("1.0.0", {"type": "static", "addresses": addr, "routes": [
        {"dst": "0.0.0.0/0", "priority": 9007199254740993}]}))
    b.add("routefields", "MTU-capitalised-1.0.0", "ADD", netconf("1.0.0", {"type": "static", "addresses": addr, "routes": [
        {"DST": "1.0.0.0/8", "GW": "10.0.0.3", "MTU": 5}]}))
    bad = "json: cannot unmarshal {what} into Go struct field IPAMConfig.ipam.routes.{f} of type int"
    for f, v, what in (("mtu", "x", "string"), ("table", True, "bool"), ("scope", [1], "array"),
                       ("advmss", 1.5, "number 1.5"), ("priority", 2**63, f"number {2**63}")):
        b.add("routefields", f"{f}-wrong-type-1.0.0", "ADD",
              netconf("1.0.0", {"type": "static", "addresses": addr, "routes": [{"dst": "0.0.0.0/0", f: v}]}),
              head_error=(999, bad.format(what=what, f=f)))
    for name, lit in (("mtu-1.0-literal", "1.0"), ("mtu-1e2-literal", "1e2")):
        b.add("routefields", f"{name}-1.0.0", "ADD",
              stdin=('{"cniVersion":"1.0.0","name":"mynet","ipam":{"type":"static","routes":[{"dst":"0.0.0.0/0",'
                     f'"gw":"1.1.1.1","mtu":{lit}}}]}}}}').encode(),
              head_error=(999, bad.format(what=f"number {lit}", f="mtu")))
    b.add("routefields", "weight-extension-1.0.0", "ADD", netconf("1.0.0", {"type": "static", "addresses": addr, "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.10.0.254", "weight": 3}, {"dst": "0.0.0.0/0", "gw": "10.10.0.253", "weight": 1}]}))
    b.add("check", "prev-interfaces-mtu-string", "CHECK", netconf("1.0.0", S1_IPAM, prevResult={
        "cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mtu": "x"}]}),
        head_error=(999, "could not parse prevResult: json: cannot unmarshal string into Go struct field "
                         "Result.interfaces.mtu of type int"))


def _misc(b: _Builder) -> None:
    """GC and STATUS inputs, and VERSION's stdin."""
    b.add("gc", "valid-attachments", "GC", netconf("1.1.0", S1_IPAM, **{
        "cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}],
        "cni.dev/attachments": [{"containerID": "c1", "ifname": "eth0"}]}))
    b.add("gc", "garbage-attachments", "GC", netconf("1.1.0", S1_IPAM, **{"cni.dev/valid-attachments": "x"}))
    b.add("gc", "no-ipam", "GC", netconf("1.1.0"))
    b.add("gc", "version-1.1", "GC", netconf("1.1", S1_IPAM))
    b.add("gc", "version-2.0.0", "GC", netconf("2.0.0", S1_IPAM))
    b.add("gc", "version-1.0.0.0", "GC", netconf("1.0.0.0", S1_IPAM))
    b.add("gc", "version-huge", "GC", netconf("99999999999999999999.0.0", S1_IPAM))
    b.add("status", "no-ipam", "STATUS", netconf("1.1.0"))
    b.add("status", "version-2.0.0", "STATUS", netconf("2.0.0"))
    b.add("status", "version-1.1", "STATUS", netconf("1.1"))
    b.add("status", "broken-ipam", "STATUS", netconf("1.1.0", "x"))
    for v in ("0.4.0", "1.1.0", "9.9.9"):
        b.add("version", f"stdin-{v}", "VERSION", stdin=json.dumps({"cniVersion": v}).encode())
