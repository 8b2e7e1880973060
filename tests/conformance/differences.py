"""THE table of deliberate differences between pycni's `static` and Debian's 1.1.1 reference binary.

pycni follows upstream HEAD (containernetworking/plugins 3d27709f, cni library v1.3.0); Debian
ships plugins 1.1.1 built on cni v1.1.2 with Go 1.19. Each entry below says which cases it
covers, what pycni must answer there instead of the reference, and why. The expected answer is
always derived from the reference where that is possible (a "twin" case run through the reference
binary, or a patch of its answer); only GC/STATUS and the environment checks, which 1.1.1 does
not implement the HEAD way, use a small model of HEAD's skel written from the upstream source.
Any difference not produced by this table fails the suite.

Kinds: "twin" (run the reference on a rewritten case, then adjust), "replace" (the answer is
something else entirely), "patch" (adjust the reference's answer).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from cni_exec import ErrorValue, GoTypeError, Outcome, error, is_type_error, success
from static_corpus import MISSING, Case, _ci_get

ALL = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
DEBIAN_LIST = '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0"]'
HEAD_LIST = '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]'
KNOWN_COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS")


@dataclass(frozen=True)
class Difference:
    key: str
    kind: str  # "twin" | "replace" | "patch"
    what: str
    reason: str
    applies: Callable[..., bool]  # twin: (case); replace/patch: (case, expected)
    apply: Callable[..., Any]  # twin: (case) -> Case; replace/patch: (case, expected) -> Outcome
    post: Callable[[Case, Outcome], Outcome] | None = None  # twin only: adjust the twin's answer


# --- a model of HEAD's skel, for the parts 1.1.1 does differently --------------------------------

_ORDER = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH")
_ALL5 = frozenset(("ADD", "CHECK", "DEL", "GC", "STATUS"))
_ADC = frozenset(("ADD", "CHECK", "DEL"))
_REQUIRED = {"CNI_COMMAND": _ALL5, "CNI_CONTAINERID": _ADC, "CNI_NETNS": frozenset(("ADD", "CHECK")),
             "CNI_IFNAME": _ADC, "CNI_ARGS": frozenset(), "CNI_PATH": _ALL5}
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B))
_CNI_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")


def head_env_error(cmd: str, env: dict[str, str]) -> Outcome | None:
    """HEAD skel's environment walk: a present-but-invalid CONTAINERID/IFNAME fails at once,
    missing variables are reported together afterwards (pkg/skel/skel.go getCmdArgsFromEnv)."""
    missing = []
    for var in _ORDER:
        val = env.get(var, "")
        if val == "":
            if cmd in _REQUIRED[var] or var == "CNI_COMMAND":
                missing.append(var)
        elif cmd in _REQUIRED[var]:
            if var == "CNI_CONTAINERID" and not _CNI_NAME.fullmatch(val):
                return error(4, "invalid characters in containerID", shown(val))
            if var == "CNI_IFNAME":
                err = _ifname_error(val)
                if err is not None:
                    return err
    if missing:
        return error(4, f"required env variables [{','.join(missing)}] missing")
    return None


def shown(value: str) -> str:
    """An environment value as it reads in the plugin's JSON output: a byte that is not UTF-8 is U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ifname_error(name: str) -> Outcome | None:
    if len(name.encode("utf-8", "surrogateescape")) > 15:
        return error(4, "interface name is too long", "interface name should be less than 16 characters")
    if name in (".", ".."):
        return error(4, "interface name is . or ..")
    if any(c in "/:" or c in _GO_SPACE for c in name):
        return error(4, "interface name contains / or : or whitespace characters")
    return None


def _go_version(v: str) -> tuple[int, int, int] | str:
    """pkg/version ParseVersion: the triple, or the error text."""
    if v == "":
        return (0, 1, 0)
    parts = v.split(".")
    from pycni.spec.version import go_quote as q  # %q itself is pinned by tests/unit/test_spec_version.py

    if len(parts) >= 4:
        return f"invalid version {q(v)}: too many parts"
    out = []
    for which, p in zip(("major", "minor", "micro"), parts):
        if not re.fullmatch(r"[+-]?[0-9]+", p):
            return f"failed to convert {which} version part {q(p)}: strconv.Atoi: parsing {q(p)}: invalid syntax"
        if not -(2**63) <= int(p) < 2**63:
            return f"failed to convert {which} version part {q(p)}: strconv.Atoi: parsing {q(p)}: value out of range"
        out.append(int(p))
    while len(out) < 3:
        out.append(0)
    return tuple(out)  # type: ignore[return-value]


def _is_stdin_error(o: Outcome) -> bool:
    if o.kind != "error":
        return False
    msg = o.value.msg if isinstance(o.value.msg, str) else getattr(o.value.msg, "prefix", "")
    return (o.value.code == 6 and msg.startswith("error unmarshall network config: ")) or (
        o.value.code == 7 and msg in ("missing network name", "invalid characters found in network name"))


def head_gc_status(case: Case, ref: Outcome) -> Outcome:
    """GC/STATUS at HEAD for a plugin without GC/STATUS callbacks (static): env (CNI_PATH), stdin
    name checks, then the version gate (>= 1.1.0) and the supported-version checks; success."""
    cmd = case.command or ""
    err = head_env_error(cmd, case.env)
    if err is not None:
        return err
    if _is_stdin_error(ref):  # 1.1.1 validates stdin the same way, before anything else here
        return ref
    conf = json.loads(case.stdin)
    v = _ci_get(conf, "cniVersion")
    if v is not MISSING and v is not None and not isinstance(v, str):
        kind = {bool: "bool", dict: "object", list: "array"}.get(type(v), "number")
        return error(6, f"decoding version from network config: json: cannot unmarshal {kind} into Go struct field "
                        ".cniVersion of type string")
    v = v if isinstance(v, str) and v else "0.1.0"
    parsed = _go_version(v)
    if isinstance(parsed, str):
        return error(6, parsed)
    if parsed < (1, 1, 0):
        return error(1, f"config version does not allow {cmd}")
    for pv in ALL:
        if _go_version(pv) >= parsed:  # type: ignore[operator]
            if v in ALL:
                return success()
            return error(1, "incompatible CNI versions", f'config is "{v}", plugin supports {HEAD_LIST}')
    return error(1, f"plugin version does not allow {cmd}")


# --- twins -----------------------------------------------------------------------------------


def _rewrite(case: Case, conf: Any) -> Case:
    return replace(case, id=case.id + "#twin", stdin=json.dumps(conf).encode(), conf=conf)


def _as_100(case: Case) -> Case:
    conf = json.loads(json.dumps(case.conf))
    for k in list(conf):
        if k.lower() == "cniversion" and conf[k] == "1.1.0":
            conf[k] = "1.0.0"
    prev = _ci_get(conf, "prevResult")
    if isinstance(prev, dict) and prev.get("cniVersion") == "1.1.0":
        prev["cniVersion"] = "1.0.0"
    return _rewrite(case, conf)


def _relabel_110(case: Case, o: Outcome) -> Outcome:
    # only the config's version decides the result's; a 1.1.0 prevResult does not
    if _ci_get(case.conf, "cniVersion") == "1.1.0" and o.kind == "result" and o.value.get("cniVersion") == "1.0.0":
        return replace(o, value={**o.value, "cniVersion": "1.1.0"})
    return o


def _without_null_routes(case: Case) -> Case:
    conf = json.loads(json.dumps(case.conf))
    ipam = _ci_get(conf, "ipam")
    for k in list(ipam):
        if k.lower() == "routes":
            ipam[k] = [r for r in ipam[k] if r is not None]
    return _rewrite(case, conf)


# --- patches ---------------------------------------------------------------------------------


def _result_family(o: Outcome) -> str | None:
    if o.kind != "result":
        return None
    v = o.value.get("cniVersion")
    return "1.x" if v in ("1.0.0", "1.1.0") else "04x" if v in ("0.3.0", "0.3.1", "0.4.0") else "02x"


def _add_route_fields(key: str) -> Callable[[Case, Outcome], Outcome]:
    def patch(case: Case, o: Outcome) -> Outcome:
        fam = _result_family(o)
        routes = [dict(r) for r in o.value.get("routes", [])]
        per_route = case.meta[key]
        assert len(routes) == len(per_route), (routes, per_route)
        for r, extra in zip(routes, per_route):
            if key == "route_weights":
                extra = {"weight": extra} if extra else {}
            for k, v in extra.items():
                # 1.x results go through a float64 map round trip at HEAD
                r[k] = int(float(v)) if fam == "1.x" else v
        return replace(o, value={**o.value, "routes": routes})

    return patch


def _has_routes_for(key: str) -> Callable[[Case, Outcome], bool]:
    def applies(case: Case, o: Outcome) -> bool:
        return bool(case.meta.get(key)) and _result_family(o) in ("04x", "1.x") and bool(o.value.get("routes"))

    return applies


def _list_110(case: Case, o: Outcome) -> Outcome:
    e = o.value
    msg = e.msg.replace("result type supports [1.0.0] but", "result type supports [1.0.0 1.1.0] but")
    details = e.details.replace(DEBIAN_LIST, HEAD_LIST)
    return replace(o, value=ErrorValue(e.code, msg, details))


def _mentions_debian_list(case: Case, o: Outcome) -> bool:
    return o.kind == "error" and isinstance(o.value.msg, str) and (
        "result type supports [1.0.0] but" in o.value.msg or DEBIAN_LIST in o.value.details)


def _version_reply(case: Case, o: Outcome) -> Outcome:
    return Outcome(0, "version", '{"cniVersion":"1.1.0","supportedVersions":' + json.dumps(list(ALL), separators=(",", ":"))
                   + "}\n")


def _about(case: Case, o: Outcome) -> Outcome:
    from pycni import __version__

    return Outcome(0, "about", f"CNI static plugin pycni {__version__}\n"
                               f"CNI protocol versions supported: {', '.join(ALL)}\n")


def _unknown_command(case: Case, o: Outcome) -> Outcome:
    if _is_stdin_error(o):
        return o
    return error(4, f"unknown CNI_COMMAND: {shown(case.command or '')}")


def _env_order(case: Case, o: Outcome) -> Outcome:
    return head_env_error(case.command or "", case.env) or o


def _head_error(case: Case, o: Outcome) -> Outcome:
    code, msg = case.meta["head_error"]
    return error(code, msg)


def _drop_empty_dns(case: Case, o: Outcome) -> Outcome:
    return replace(o, value={k: v for k, v in o.value.items() if k != "dns"})


def _type_error_shape(case: Case, o: Outcome) -> Outcome:
    return replace(o, value=ErrorValue(o.value.code, GoTypeError(o.value.msg), o.value.details))


def _is_error(o: Outcome) -> bool:
    return o.kind == "error" and isinstance(o.value.msg, str)


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "spec-1.1.0", "twin",
        "cniVersion 1.1.0 (config or prevResult) is supported: the answer is the reference's answer for 1.0.0, "
        "labelled 1.1.0",
        "HEAD's version.All includes 1.1.0 and its 1.x result type parses 1.0.0 and 1.1.0; Debian's 1.1.1 "
        "says code 1 'incompatible CNI versions' (or 'plugin version does not allow CHECK')",
        lambda case: case.meta.get("v110") and case.command in ("ADD", "DEL", "CHECK"),
        _as_100, _relabel_110),
    Difference(
        "null-route-dropped", "twin",
        "a null entry in ipam.routes is dropped: the answer is the reference's answer without it",
        "upstream passes a nil *Route through (\"routes\": [null]) and panics converting it to 0.1.0/0.2.0 "
        "(exit 2, Go stack trace); a null route has no destination and every consumer of the result would "
        "crash on it",
        lambda case: case.meta.get("null_routes") and case.command == "ADD",
        _without_null_routes),
    Difference(
        "gc-status", "replace",
        "GC and STATUS are commands: code 4 if CNI_PATH is missing, the stdin name checks, then code 6 for an "
        "unparsable cniVersion, code 1 'config version does not allow GC/STATUS' below 1.1.0, code 1 "
        "'incompatible CNI versions' for an unsupported one, else success with no output",
        "HEAD's skel implements GC and STATUS (static has no callbacks, so they succeed); Debian's 1.1.1 "
        "answers 'unknown CNI_COMMAND' (code 4) or code 3 'missing containerID'",
        lambda case, o: case.command in ("GC", "STATUS"),
        head_gc_status),
    Difference(
        "version-reply", "replace",
        'VERSION prints {"cniVersion":"1.1.0","supportedVersions":[...,"1.1.0"]} and a newline',
        "HEAD's library version is 1.1.0 and static supports version.All (cni-spec-checklist P-VSN-02)",
        lambda case, o: case.command == "VERSION" and o.kind == "version",
        _version_reply),
    Difference(
        "about-text", "replace",
        "with no CNI_COMMAND, stderr says 'CNI static plugin pycni <version>' and lists 1.1.0",
        "the about string is the build's own name; the version list is version.All",
        lambda case, o: o.kind == "about",
        _about),
    Difference(
        "unknown-command", "replace",
        "an unknown CNI_COMMAND (e.g. 'add') fails with code 4 'unknown CNI_COMMAND: X' once stdin passed "
        "the name checks; CNI_CONTAINERID/CNI_IFNAME are not looked at",
        "HEAD validates the container ID and interface name only for ADD/CHECK/DEL, inside the env walk; "
        "1.1.1 validates them for every command after stdin (code 3 'missing containerID' first)",
        lambda case, o: case.command not in KNOWN_COMMANDS and bool(case.command),
        _unknown_command),
    Difference(
        "env-validation-order", "replace",
        "for ADD/CHECK/DEL a set-but-invalid CNI_CONTAINERID or CNI_IFNAME is reported first, then missing "
        "variables, then stdin (name) problems",
        "HEAD's getCmdArgsFromEnv validates while walking the variables (cni-spec-checklist 1.21); 1.1.1 "
        "reports missing variables, then the network name, then the container ID and interface name",
        lambda case, o: case.command in ("ADD", "CHECK", "DEL"),
        _env_order),
    Difference(
        "head-only-fields", "replace",
        "fields upstream added after 1.1.1 are decoded, so a wrong JSON type there is an error: route "
        "mtu/advmss/priority/table/scope, result interface mtu",
        "HEAD's types.Route and types100.Interface have these fields (Go ints: 1.0, 1e2 and 2**63 do not "
        "fit); 1.1.1's structs lack them and ignore the keys",
        # only once the environment and stdin checks passed (HEAD fails later, while decoding)
        lambda case, o: "head_error" in case.meta and (o.kind != "error" or o.value.code == 999),
        _head_error),
    Difference(
        "supported-list-has-1.1.0", "patch",
        "version lists in error text include 1.1.0: 'plugin supports [... \"1.0.0\" \"1.1.0\"]', "
        "'result type supports [1.0.0 1.1.0]'",
        "same reason as spec-1.1.0",
        _mentions_debian_list, _list_110),
    Difference(
        "route-fields-kept", "patch",
        "routes keep mtu/advmss/priority (when non-zero) and table/scope (when present) in 0.3.x/0.4.0/1.x "
        "results; 1.x numbers pass through float64 (the result's map round trip)",
        "HEAD's types.Route carries them and the 1.x/0.4.x converters copy them (cni-spec-checklist P-CNV-02, "
        "E27); 1.1.1 drops them",
        _has_routes_for("route_extras"), _add_route_fields("route_extras")),
    Difference(
        "route-weight-extension", "patch",
        "a route's non-zero 'weight' is kept in 0.3.x/0.4.0/1.x results",
        "pycni extension: an ECMP nexthop weight for the main plugins' multipath routes (spec/result.py); "
        "upstream has no such field and ignores the key",
        _has_routes_for("route_weights"), _add_route_fields("route_weights")),
    Difference(
        "empty-dns-omitted", "patch",
        "a 1.x result with empty dns has no 'dns' key (absent dns == {})",
        "HEAD's types100.Result.MarshalJSON deletes an empty dns (cni-spec-checklist P-RES-05, E26); 1.1.1 "
        "prints \"dns\": {}",
        lambda case, o: _result_family(o) == "1.x" and o.value.get("dns") == {},
        _drop_empty_dns),
    Difference(
        "go-type-error-path", "patch",
        "Go type errors are compared without their 'struct field <Struct>.<path>' part",
        "Go 1.19 reports an error inside a custom UnmarshalJSON at the outer field (IPAMConfig.ipam.routes), "
        "newer Go appends the inner path (IPAMConfig.ipam.routes.mtu); HEAD also renamed NetConf to "
        "PluginConf. The value kind and the Go type still have to match",
        lambda case, o: _is_error(o) and is_type_error(o.value.msg),
        _type_error_shape),
)
# Go's JSON syntax-error wording is not in the table: pycni reproduces it exactly (spec/gojson.py).


def expected_for(case: Case, ref: Outcome, run_ref: Callable[[Case], Outcome]) -> tuple[Outcome, list[str]]:
    """What pycni must answer, and the keys of the entries that changed the reference's answer."""
    used: list[str] = []
    twins = [d for d in DIFFERENCES if d.kind == "twin" and d.applies(case)]
    expected = ref
    if twins:
        twin = case
        for d in twins:
            twin = d.apply(twin)
        expected = run_ref(twin)
        for d in reversed(twins):
            if d.post is not None:
                expected = d.post(case, expected)
        if repr(expected) != repr(ref):
            used.extend(d.key for d in twins)
    for kind in ("replace", "patch"):
        for d in DIFFERENCES:
            if d.kind != kind or not d.applies(case, expected):
                continue
            new = d.apply(case, expected)
            if repr(new) != repr(expected):
                used.append(d.key)
            expected = new
    return expected, used
