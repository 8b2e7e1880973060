"""CNI results: parsing per version family, conversion between every pair of versions, printing.

A result is held as a JSON-shaped dict in its own version's layout with canonical strings
(Go's IP/CIDR text). Three families, as in the reference library:
  "1.x"  1.0.0, 1.1.0         interfaces / ips / routes / dns
  "04x"  0.3.0, 0.3.1, 0.4.0  the same plus ips[].version; interfaces lack mtu/socketPath/pciID
  "02x"  "", 0.1.0, 0.2.0     ip4 / ip6 {ip, gateway, routes} and dns
Conversions follow the library's graph: 02x <-> 04x <-> 1.x (1.x to 02x goes through 0.4.0).
pycni extension: a route may carry "weight" (an ECMP nexthop weight); it travels like mtu/advmss.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.spec import ipnet
from pycni.spec.godecode import (  # noqa: F401
    BOOL,
    INT,
    IP,
    IPNET,
    STRING,
    DecodeError,
    Struct,
    decode_struct,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    # The shapes of a result for the checker only: free at run time (a result is a plain dict).
    from typing import Any, TypedDict

    class Interface(TypedDict, total=False):
        name: str
        mac: str
        mtu: int
        sandbox: str
        socketPath: str
        pciID: str

    class IPConfig(TypedDict, total=False):
        address: str  # CIDR text; "<nil>" when Go would print nil
        gateway: str
        interface: int
        version: str  # 0.3.x / 0.4.0 only

    class Route(TypedDict, total=False):
        dst: str
        gw: str
        mtu: int
        advmss: int
        priority: int
        table: int
        scope: int
        weight: int  # pycni's ECMP nexthop weight

    class DNSInfo(TypedDict, total=False):
        nameservers: list[str]
        domain: str
        search: list[str]
        options: list[str]

    class LegacyIPConfig(TypedDict, total=False):  # 0.1.0 / 0.2.0 ip4 and ip6
        ip: str
        gateway: str
        routes: list[Route]

    class Result(TypedDict, total=False):
        cniVersion: str
        interfaces: list[Interface]
        ips: list[IPConfig]
        routes: list[Route]
        dns: DNSInfo
        ip4: LegacyIPConfig
        ip6: LegacyIPConfig
else:
    Result = dict  # a JSON-shaped result dict, see the module docstring

FAMILY_VERSIONS = {
    "1.x": ("1.0.0", "1.1.0"),
    "04x": ("0.3.0", "0.3.1", "0.4.0"),
    "02x": ("", "0.1.0", "0.2.0"),
}


def family(version: str) -> str | None:
    for fam, versions in FAMILY_VERSIONS.items():
        if version in versions:
            return fam
    return None


class ResultError(ValueError):
    pass


# --- Go struct shapes (for decoding with Go's rules) -------------------------------------------

DNS = Struct(
    "DNS",
    [
        ("nameservers", ("list", STRING, "[]string")),
        ("domain", STRING),
        ("search", ("list", STRING, "[]string")),
        ("options", ("list", STRING, "[]string")),
    ],
    gotype="types.DNS",
)
ROUTE = Struct(
    "route",
    [
        ("dst", IPNET),
        ("gw", IP),
        ("mtu", INT),
        ("advmss", INT),
        ("priority", INT),
        ("table", INT),
        ("scope", INT),
        ("weight", INT),
    ],
    gotype="types.route",  # Route.UnmarshalJSON decodes into this private twin
    fresh=True,
)
_IFACE_100 = Struct(
    "Interface",
    [("name", STRING), ("mac", STRING), ("mtu", INT), ("sandbox", STRING), ("socketPath", STRING), ("pciID", STRING)],
    gotype="types100.Interface",
)
_IPC_100 = Struct("ipConfig", [("interface", INT), ("address", IPNET), ("gateway", IP)], "types100.ipConfig", True)
_RESULT_100 = Struct(
    "Result",
    [
        ("cniVersion", STRING),
        ("interfaces", ("list", ("struct", _IFACE_100), "[]*types100.Interface")),
        ("ips", ("list", ("struct", _IPC_100), "[]*types100.IPConfig")),
        ("routes", ("list", ("struct", ROUTE), "[]*types.Route")),
        ("dns", ("struct", DNS, "value")),
    ],
)
_IFACE_040 = Struct("Interface", [("name", STRING), ("mac", STRING), ("sandbox", STRING)], "types040.Interface")
_IPC_040 = Struct(
    "ipConfig", [("version", STRING), ("interface", INT), ("address", IPNET), ("gateway", IP)],
    "types040.ipConfig", True,
)
_RESULT_040 = Struct(
    "Result",
    [
        ("cniVersion", STRING),
        ("interfaces", ("list", ("struct", _IFACE_040), "[]*types040.Interface")),
        ("ips", ("list", ("struct", _IPC_040), "[]*types040.IPConfig")),
        ("routes", ("list", ("struct", ROUTE), "[]*types.Route")),
        ("dns", ("struct", DNS, "value")),
    ],
)
_IPC_020 = Struct(
    "ipConfig",
    [("ip", IPNET), ("gateway", IP), ("routes", ("list", ("struct", ROUTE), "[]types.Route"))],
    "types020.ipConfig", True,
)
_RESULT_020 = Struct(
    "Result",
    [
        ("cniVersion", STRING),
        ("ip4", ("struct", _IPC_020)),
        ("ip6", ("struct", _IPC_020)),
        ("dns", ("struct", DNS, "value")),
    ],
)
_SHAPES = {"1.x": _RESULT_100, "04x": _RESULT_040, "02x": _RESULT_020}

NIL = "<nil>"  # how Go prints an unset IPNet (a route or IP without its address)


# --- canonical text ------------------------------------------------------------------------------


def _cidr_text(v: Any) -> str:
    return NIL if v is None else ipnet.cidr_str(v[0], v[1])


def _route_out(r: dict[str, Any]) -> Any:  # a Route (built key by key, so Any for the checker)
    out: dict[str, Any] = {"dst": _cidr_text(r.get("dst"))}
    if "gw" in r:
        out["gw"] = ipnet.ip_str(r["gw"])
    for k in ("mtu", "advmss", "priority"):
        if r.get(k):
            out[k] = r[k]
    for k in ("table", "scope"):
        if k in r:
            out[k] = r[k]
    if r.get("weight"):
        out["weight"] = r["weight"]
    return out


def _dns_out(d: Any) -> Any:  # a DNSInfo
    out: dict[str, Any] = {}
    if not d:
        return out
    for k in ("nameservers", "domain", "search", "options"):
        if d.get(k):
            out[k] = list(d[k]) if k != "domain" else d[k]
    return out


def _iface_out(i: dict[str, Any]) -> Any:  # an Interface
    # name is always printed; the other fields are omitempty in Go.
    out: dict[str, Any] = {"name": i.get("name", "")}
    for k in ("mac", "mtu", "sandbox", "socketPath", "pciID"):  # Go's struct order
        if i.get(k):
            out[k] = i[k]
    return out


def _ipc_out(c: dict[str, Any], with_version: bool) -> Any:  # an IPConfig
    out: dict[str, Any] = {}
    if with_version:
        out["version"] = c.get("version", "")
    if "interface" in c:
        out["interface"] = c["interface"]
    out["address"] = _cidr_text(c.get("address"))
    if "gateway" in c:
        out["gateway"] = ipnet.ip_str(c["gateway"])
    return out


def parse(obj: Any, version: str) -> Result:
    """The library's create.Create(version, json): decode in `version`'s family, check cniVersion.

    Raises ResultError with the library's text.
    """
    fam = family(version)
    if fam is None:
        raise ResultError(f"unsupported CNI result version {q(version)}")
    try:
        d = decode_struct(obj, _SHAPES[fam])
    except DecodeError as exc:
        raise ResultError(str(exc)) from None
    got = d.get("cniVersion", "")
    if got not in FAMILY_VERSIONS[fam]:
        supported = FAMILY_VERSIONS[fam]
        listed = "[" + " ".join(supported) + "]"
        raise ResultError(f"result type supports {listed} but unmarshalled CNIVersion is {q(got)}")
    out: Result = {"cniVersion": got or "0.1.0"}
    if fam == "02x":
        for key in ("ip4", "ip6"):
            if d.get(key) is not None:  # null is Go's nil *IPConfig: absent
                c = d[key]
                ipc: Any = {"ip": _cidr_text(c.get("ip"))}
                if "gateway" in c:
                    ipc["gateway"] = ipnet.ip_str(c["gateway"])
                if c.get("routes"):
                    ipc["routes"] = [_route_out(r) for r in c["routes"]]
                out["ip4" if key == "ip4" else "ip6"] = ipc
        out["dns"] = _dns_out(d.get("dns"))
        return out
    ifaces = d.get("interfaces") or []
    for key, items in (("interfaces", ifaces), ("ips", d.get("ips") or ()), ("routes", d.get("routes") or ())):
        _refuse_null(key, items)
    # Go keeps an unset IPNet, prints it as "<nil>" (which no parser reads back) and hands it to iptables:
    # an IP without its address or a route without its dst is refused instead.
    for key, field in (("ips", "address"), ("routes", "dst")):
        for i, item in enumerate(d.get(key) or ()):
            if item.get(field) is None:
                raise ResultError(f"{key}[{i}] has no {field}")
    if ifaces:
        out["interfaces"] = [_iface_out(i) for i in ifaces]
    if d.get("ips"):
        out["ips"] = [_ipc_out(c, fam == "04x") for c in d["ips"]]
    if d.get("routes"):
        out["routes"] = [_route_out(r) for r in d["routes"]]
    out["dns"] = _dns_out(d.get("dns"))
    return out


def _refuse_null(key: str, items: Any) -> None:
    # Go keeps a nil pointer here and the reference panics on it later: refuse it up front.
    if None in items:
        raise ResultError(f"{key}[{items.index(None)}] is null")


# --- conversion ----------------------------------------------------------------------------------


class NilAddress(str):
    """An address Go prints as "<nil>" (an IPNet whose mask does not fit its IP) that still has an
    IP: the IP's family decides its "version" when the result is converted."""

    v4 = False


def nil_address(v4: bool) -> NilAddress:
    a = NilAddress(NIL)
    a.v4 = v4
    return a


def _is_v4_text(cidr: str) -> bool:
    # Canonical IPv4 text never contains ':'; Go's To4() on an unset IP is nil (so "not v4").
    if isinstance(cidr, NilAddress):
        return cidr.v4
    addr = cidr.split("/")[0]
    return addr != NIL and ":" not in addr


def _copy_dns(d: DNSInfo | None) -> Any:
    return _dns_out(d)


def _100_to_04x(r: Result, to: str) -> Result:
    out: Result = {"cniVersion": to}
    if r.get("interfaces"):
        slim: list[Any] = [{k: i[k] for k in ("name", "mac", "sandbox") if k in i} for i in r["interfaces"]]
        out["interfaces"] = slim
    if r.get("ips"):
        ips: list[Any] = []
        for c in r["ips"]:
            n: Any = {"version": "4" if _is_v4_text(c["address"]) else "6"}
            n.update({k: c[k] for k in ("interface", "address", "gateway") if k in c})
            ips.append(n)
        out["ips"] = ips
    if r.get("routes"):
        out["routes"] = [rt.copy() for rt in r["routes"]]
    out["dns"] = _copy_dns(r.get("dns"))
    return out


def _04x_to_100(r: Result, to: str) -> Result:
    out: Result = {"cniVersion": to}
    if r.get("interfaces"):
        out["interfaces"] = [i.copy() for i in r["interfaces"]]
    if r.get("ips"):
        kept: list[Any] = [{k: c[k] for k in ("interface", "address", "gateway") if k in c} for c in r["ips"]]
        out["ips"] = kept
    if r.get("routes"):
        out["routes"] = [rt.copy() for rt in r["routes"]]
    out["dns"] = _copy_dns(r.get("dns"))
    return out


def _04x_to_02x(r: Result, to: str) -> Result:
    ip4: Any = None
    ip6: Any = None
    for c in r.get("ips") or []:
        ver = c.get("version")
        if ver == "4" and ip4 is None:
            ip4 = {"ip": c["address"], **({"gateway": c["gateway"]} if "gateway" in c else {})}
        elif ver == "6" and ip6 is None:
            ip6 = {"ip": c["address"], **({"gateway": c["gateway"]} if "gateway" in c else {})}
        if ip4 is not None and ip6 is not None:
            break
    for rt in r.get("routes") or []:
        slim = {"dst": rt["dst"], **({"gw": rt["gw"]} if "gw" in rt else {})}
        target = ip4 if _is_v4_text(rt["dst"]) else ip6
        if target is not None:
            target.setdefault("routes", []).append(slim)
    if ip4 is None and ip6 is None:
        raise ResultError("cannot convert: no valid IP addresses")
    out: Result = {"cniVersion": to}
    if ip4 is not None:
        out["ip4"] = ip4
    if ip6 is not None:
        out["ip6"] = ip6
    out["dns"] = _copy_dns(r.get("dns"))
    return out


def _02x_to_04x(r: Result, to: str) -> Result:
    out: Result = {"cniVersion": to}
    ips: list[Any] = []
    routes: list[Any] = []
    for c, ver in ((r.get("ip4"), "4"), (r.get("ip6"), "6")):
        if c is None:
            continue
        ips.append({"version": ver, "address": c["ip"], **({"gateway": c["gateway"]} if "gateway" in c else {})})
        routes.extend(rt.copy() for rt in c.get("routes") or [])
    if ips:
        out["ips"] = ips
    if routes:
        out["routes"] = routes
    out["dns"] = _copy_dns(r.get("dns"))
    return out


def _relabel(r: Result, to: str) -> Result:
    out = r.copy()
    out["cniVersion"] = to
    return out


def convert(r: Result, to: str) -> Result:
    """Result.GetAsVersion(to): the library's conversion, with its errors."""
    if to == "":
        to = "0.1.0"
    src = r.get("cniVersion") or "0.1.0"
    if src == to:
        return r
    f_src, f_to = family(src), family(to)
    if f_src is None or f_to is None or to == "":
        raise ResultError(f"no converter for CNI result version {src} to {to}")
    if f_src == f_to:
        return _relabel(r, to)
    if f_src == "1.x":
        r04 = _100_to_04x(r, to if f_to == "04x" else "0.4.0")
        return r04 if f_to == "04x" else _04x_to_02x(r04, to)
    if f_src == "04x":
        return _04x_to_100(r, to) if f_to == "1.x" else _04x_to_02x(r, to)
    r04 = _02x_to_04x(r, to if f_to == "04x" else "0.4.0")
    return r04 if f_to == "04x" else _04x_to_100(r04, to)


# --- printing ------------------------------------------------------------------------------------


def _sorted_deep(v: Any) -> Any:
    # Result.MarshalJSON (1.x) round-trips through map[string]interface{}: keys sorted, and every
    # number becomes a float64 (an integer above 2**53 comes out rounded).
    if isinstance(v, dict):
        return {k: _sorted_deep(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted_deep(i) for i in v]
    if isinstance(v, int) and not isinstance(v, bool) and not -(2**53) <= v <= 2**53:
        return int(float(v))
    return v


def to_json_obj(r: Result) -> dict[str, Any]:
    """The object the reference prints for this result (HEAD: 1.x keys sorted, empty dns dropped)."""
    r_: Any = r  # walked key by key below
    fam = family(r.get("cniVersion", ""))
    if fam == "1.x":
        out = {k: v for k, v in r.items() if v not in (None, [], {}) or k == "cniVersion"}
        out.pop("dns", None) if not r.get("dns") else None
        return _sorted_deep(out)
    if fam == "04x":
        ordered: dict[str, Any] = {"cniVersion": r["cniVersion"]}
        for k in ("interfaces", "ips", "routes"):
            if r_.get(k):
                ordered[k] = r_[k]
        ordered["dns"] = r.get("dns") or {}
        return ordered
    ordered = {"cniVersion": r.get("cniVersion", "0.1.0")}
    for k in ("ip4", "ip6"):
        if r_.get(k) is not None:
            ordered[k] = r_[k]
    ordered["dns"] = r.get("dns") or {}
    return ordered


def new_result(ips: list[IPConfig], routes: list[Route], dns: Any,
               interfaces: list[Interface] | None = None) -> Result:
    """A 1.1.0 result built by a plugin (entries already in canonical text)."""
    r: Result = {"cniVersion": "1.1.0"}
    if interfaces:
        r["interfaces"] = interfaces
    if ips:
        r["ips"] = ips
    if routes:
        r["routes"] = routes
    r["dns"] = _dns_out(dns)
    return r


def route_from_config(r: dict[str, Any]) -> Route:
    """A decoded (godecode) route struct to result text."""
    return _route_out(r)


def dns_from_config(d: dict[str, Any] | None) -> DNSInfo:
    return _dns_out(d)
