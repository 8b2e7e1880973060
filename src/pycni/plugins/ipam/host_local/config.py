"""host-local's LoadIPAMConfig: decode with Go's rules, collect requested IPs, order and check ranges.

Order of steps and every message as upstream's allocator/config.go. Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec import ipnet
from pycni.spec import result as R
from pycni.spec.args import parse_cni_args
from pycni.spec.godecode import CIDR_NET, IP, RAW, STRING, DecodeError, Struct, decode_struct, json_kind
from pycni.spec.version import check_addresses_per_family

from .range import Range, RangeError, RangeSet, not_v4_nor_v6

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.spec.ipnet import IP as IPT  # godecode's IP (a field kind) has the plain name here


_RANGE_FIELDS: list[tuple[str, Any]] = [
    ("rangeStart", IP),
    ("rangeEnd", IP),
    ("subnet", CIDR_NET),
    ("gateway", IP),
]
RANGE = Struct("Range", _RANGE_FIELDS, "allocator.Range")
_SUBNET_TEXT = Struct("Range", [("subnet", RAW)], "allocator.Range")
_RANGE_SETS = ("list", ("list", ("struct", RANGE), "allocator.RangeSet"), "[]allocator.RangeSet")
_IP_LIST = ("list", RAW, "[]*ip.IP")  # elements checked here: ip.IP has its own text decoding

IPAM_CONFIG = Struct(
    "IPAMConfig",
    [
        *_RANGE_FIELDS,  # the embedded *Range: the legacy single-range keys
        ("Name", STRING),
        ("type", STRING),
        ("routes", ("list", ("struct", R.ROUTE), "[]*types.Route")),
        ("dataDir", STRING),
        ("resolvConf", STRING),
        ("ranges", _RANGE_SETS),
    ],
    "allocator.IPAMConfig",
)
_IPAM_ARGS = Struct("IPAMArgs", [("ips", _IP_LIST)], "allocator.IPAMArgs")
_RUNTIME = Struct("", [("ipRanges", _RANGE_SETS), ("ips", _IP_LIST)],
                  'struct { IPRanges []allocator.RangeSet "json:\\"ipRanges,omitempty\\""; '
                  'IPs []*ip.IP "json:\\"ips,omitempty\\"" }')
NET = Struct(
    "Net",
    [
        ("name", STRING),
        ("cniVersion", STRING),
        ("ipam", ("struct", IPAM_CONFIG)),
        ("runtimeConfig", ("struct", _RUNTIME)),
        ("args", ("struct", Struct("", [("cni", ("struct", _IPAM_ARGS))],
                                   'struct { A *allocator.IPAMArgs "json:\\"cni\\"" }'))),
    ],
    "allocator.Net",
)


class IPAMConfig:
    """The loaded configuration: what ADD/DEL/CHECK/GC/STATUS work from."""

    __slots__ = ("name", "type", "routes", "data_dir", "resolv_conf", "ranges", "ip_args", "version")

    def __init__(self) -> None:
        self.name = ""
        self.type = ""
        self.routes: list[dict[str, Any]] = []
        self.data_dir = ""
        self.resolv_conf = ""
        self.ranges: list[RangeSet] = []
        self.ip_args: list[IPT] = []
        self.version = ""


def parse_ip_arg(s: str) -> tuple[IPT, int | None] | None:
    """pkg/ip ParseIP: an IP, or IP/prefix (prefix kept apart); None when invalid."""
    if "/" in s:
        try:
            ip, plen = ipnet.parse_cidr(s)
        except ipnet.CIDRError:
            return None
        return ip, plen
    bare = ipnet.parse_ip(s)
    return None if bare is None else (bare, None)


def ip_arg_text(value: tuple[IPT, int | None] | None) -> str:
    """ip.IP's String(): "ip/len" with a mask, the bare IP without, "<nil>" when empty."""
    if value is None:
        return "<nil>"
    ip, plen = value
    return ipnet.ip_str(ip) if plen is None else ipnet.cidr_str(ip, plen)


def _decode_ip_arg(v: Any, struct_name: str, path: list[str]) -> IPT | None:
    """One []*ip.IP element: a string through UnmarshalText; anything else is a type error."""
    if v is None:
        return None
    if not isinstance(v, str):
        raise DecodeError(f"json: cannot unmarshal {json_kind(v)} into Go struct field "
                          f"{struct_name}.{'.'.join(path)} of type *ip.IP")
    if v == "":
        return None
    parsed = parse_ip_arg(v)
    if parsed is None:
        raise DecodeError(f"invalid IP address {v}")
    return parsed[0]


def _env_ip_arg(env_args: str) -> IPT | None:
    """types.LoadArgs into {IgnoreUnknown, IP ip.IP}, pairs handled in order as the library does."""

    def ip(value: str) -> IPT | None:
        if value == "":  # an empty IP= resets an earlier one
            return None
        parsed = parse_ip_arg(value)
        if parsed is None:
            raise ValueError(f"invalid IP address {value}")
        return parsed[0]

    # never called with "" (the caller skips empty CNI_ARGS), where parse_cni_args would return {}
    return parse_cni_args(env_args, ("IP",), ip).get("IP")


def _ranges(raw_sets: list[Any] | None, raw_json: list[Any] | None) -> list[RangeSet]:
    out: list[RangeSet] = []
    for i, rs in enumerate(raw_sets or []):
        rset = RangeSet()
        raw_rs = raw_json[i] if raw_json is not None and i < len(raw_json) else None
        for j, r in enumerate(rs or []):
            raw_r = raw_rs[j] if isinstance(raw_rs, list) and j < len(raw_rs) else None
            rset.append(_range(r or {}, raw_r))
        out.append(rset)
    return out


def _range(d: dict[str, Any], raw: Any) -> Range:
    sub = d.get("subnet")
    mapped = False
    if sub is not None and sub[0][0] == 4 and isinstance(raw, dict):
        text = decode_struct(raw, _SUBNET_TEXT).get("subnet")
        mapped = isinstance(text, str) and ipnet.family_of(text) == 6  # a v4-mapped v6 text
    return Range(sub[0] if sub else None, sub[1] if sub else 0, d.get("rangeStart"), d.get("rangeEnd"),
                 d.get("gateway"), mapped)


def _raw_field(obj: Any, struct: Struct, key: str) -> Any:
    """The raw JSON value Go would decode into `key` (same key matching as godecode)."""
    if not isinstance(obj, dict):
        return None
    found = None
    for k, v in obj.items():
        f = struct.field_for(k)
        if f is not None and f[2] == key:
            found = v
    return found


def load_ipam_config(conf: Any, env_args: str) -> IPAMConfig:
    """LoadIPAMConfig. Raises ValueError with upstream's text."""
    try:
        n = decode_struct(conf, NET)
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    ipam = n.get("ipam")
    if ipam is None:
        raise ValueError("IPAM config missing 'ipam' key")

    ip_args: list[IPT | None] = []
    if env_args:
        ip = _env_ip_arg(env_args)
        if ip is not None:
            ip_args = [ip]
    try:
        cni = (n.get("args") or {}).get("cni") or {}
        for v in cni.get("ips") or []:
            ip_args.append(_decode_ip_arg(v, "IPAMArgs", ["args", "cni", "ips"]))
        rc = n.get("runtimeConfig") or {}
        for v in rc.get("ips") or []:
            ip_args.append(_decode_ip_arg(v, "", ["runtimeConfig", "ips"]))
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    for ip in ip_args:
        if ip is None:
            raise ValueError(f"cannot understand ip: {not_v4_nor_v6(None)}")

    raw_ipam = _raw_field(conf, NET, "ipam")
    ranges = _ranges(ipam.get("ranges"), _raw_field(raw_ipam, IPAM_CONFIG, "ranges"))
    if ipam.get("subnet") is not None:
        ranges.insert(0, RangeSet([_range(ipam, raw_ipam)]))
    rc = n.get("runtimeConfig") or {}
    if rc.get("ipRanges"):
        raw_rc = _raw_field(conf, NET, "runtimeConfig")
        runtime = _ranges(rc["ipRanges"], _raw_field(raw_rc, _RUNTIME, "ipRanges"))
        ranges = runtime + ranges
    if not ranges:
        raise ValueError("no IP ranges specified")

    n4 = n6 = 0
    for i, rs in enumerate(ranges):
        try:
            rs.canonicalize()
        except RangeError as exc:
            raise ValueError(f"invalid range set {i}: {exc}") from None
        if rs.family() == 4:
            n4 += 1
        else:
            n6 += 1
    version = n.get("cniVersion", "")
    check_addresses_per_family(version, n4, n6)
    for i in range(len(ranges) - 1):
        for j in range(i + 1, len(ranges)):
            if ranges[i].overlaps(ranges[j]):
                raise ValueError(f"range set {i} overlaps with {j}")

    cfg = IPAMConfig()
    cfg.name = n.get("name", "")
    cfg.type = ipam.get("type", "")
    cfg.routes = [r for r in ipam.get("routes") or [] if r is not None]
    cfg.data_dir = ipam.get("dataDir", "")
    cfg.resolv_conf = ipam.get("resolvConf", "")
    cfg.ranges = ranges
    cfg.ip_args = [ip for ip in ip_args if ip is not None]
    cfg.version = version
    return cfg
