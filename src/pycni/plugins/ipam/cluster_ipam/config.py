"""cluster-ipam's configuration: the `ipam` section decoded and validated into a Config.

Accepts whereabouts' keys (`range` incl. "A-B/cidr", `range_start`, `range_end`, `exclude`, `ipRanges`,
`etcd_host`, `etcd_*`) and host-local's `ranges`. Every problem is code 7. No etcd, no files.
"""

from __future__ import annotations

import posix

from pycni.spec import ipnet
from pycni.spec.errors import INVALID_NETWORK_CONFIG, CNIError

from .blocks import Range
from .etcd import Endpoint, TLSFiles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_PREFIX = "/pycni/v1"
DEFAULT_LOCK_DIR = "/run/pycni/cluster-ipam"


def bad(msg: str) -> CNIError:
    return CNIError(INVALID_NETWORK_CONFIG, f"cluster-ipam: {msg}")


class Config:
    __slots__ = (
        "attempt",
        "budget",
        "dns",
        "endpoints",
        "lock_dir",
        "network",
        "node",
        "password",
        "prefix",
        "reclaim_age",
        "routes",
        "sets",
        "strict_affinity",
        "tls",
        "username",
    )

    network: str
    node: str
    prefix: str
    endpoints: list[Endpoint]
    tls: TLSFiles | None
    username: str
    password: str
    sets: list[list[Range]]
    routes: list[dict[str, Any]]
    dns: dict[str, Any] | None
    strict_affinity: bool
    reclaim_age: float
    lock_dir: str
    attempt: float
    budget: float


def _get(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    v = d.get(key)
    if v is None:
        return default
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise bad(f"{key} must be a {names}")
    return v


def _num(d: Mapping[str, Any], key: str, default: float) -> float:
    v = d.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise bad(f"{key} must be a non-negative number")
    return float(v)


def _ip(s: Any, what: str) -> tuple[int, int]:
    ip = ipnet.parse_ip(s) if isinstance(s, str) else None
    if ip is None:
        raise bad(f"invalid {what} {s!r}")
    return ip


def _cidr(s: Any, what: str) -> tuple[tuple[int, int], int]:
    if not isinstance(s, str):
        raise bad(f"invalid {what} {s!r}")
    try:
        return ipnet.parse_cidr(s.strip())
    except ipnet.CIDRError:
        raise bad(f"invalid {what} {s!r}") from None


def _block_len(v: Any, family: int) -> int:
    width = 32 if family == 4 else 128
    if isinstance(v, str) and v.startswith("/") and v[1:].isdigit():
        v = int(v[1:])
    if isinstance(v, bool) or not isinstance(v, int) or not width - 8 <= v <= width:
        raise bad(f"block size must be a prefix length from /{width - 8} to /{width} for IPv{family}")
    return v


def make_range(subnet: Any, start: Any, end: Any, gateway: Any, exclude: Any, block_v4: int, block_v6: int,
               default_gateway: bool) -> Range:
    """One range from its text fields; `subnet` may be whereabouts' "A-B/cidr"."""
    if isinstance(subnet, str) and "-" in subnet:
        a, _, rest = subnet.partition("-")
        b, slash, plen_text = rest.partition("/")
        if not slash:
            raise bad(f"invalid range {subnet!r}")
        start = start if start is not None else a
        end = end if end is not None else b
        subnet = f"{b}/{plen_text}"
    (fam, v), plen = _cidr(subnet, "range")
    width = 32 if fam == 4 else 128
    net = ipnet.network((fam, v), plen)
    last = net | ((1 << (width - plen)) - 1)
    lo = net + 1 if plen < width - 1 else net
    hi = last - 1 if fam == 4 and plen < 31 else last

    def inside(x: Any, what: str) -> int:
        f, val = _ip(x, what)
        if f != fam or not net <= val <= last:
            raise bad(f"{what} {x} is not in subnet {ipnet.cidr_str((fam, net), plen)}")
        return val

    s = inside(start, "range_start") if start is not None else lo
    e = inside(end, "range_end") if end is not None else hi
    if s > e:
        raise bad(f"range_start {start} is after range_end {end}")
    gw: int | None = None
    if gateway is not None and gateway != "":
        gw = inside(gateway, "gateway")
    elif default_gateway and plen < width - 1:
        gw = net + 1  # host-local's default
    excludes: list[tuple[int, int]] = []
    for x in exclude or []:
        if not isinstance(x, str):
            raise bad(f"invalid exclude {x!r}")
        if "/" in x:
            (xf, xv), xp = _cidr(x, "exclude")
            xw = 32 if xf == 4 else 128
            xn = ipnet.network((xf, xv), xp)
            if xf == fam:
                excludes.append((xn, xn | ((1 << (xw - xp)) - 1)))
        else:
            xf, xv = _ip(x, "exclude")
            if xf == fam:
                excludes.append((xv, xv))
    return Range(fam, net, plen, s, e, gw, excludes, block_v4 if fam == 4 else block_v6)


def load(conf: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    ipam = conf.get("ipam")
    if not isinstance(ipam, dict):
        raise bad("missing ipam section")
    c = Config()
    c.network = _get(ipam, "network_name", str, "") or str(conf.get("name", ""))
    c.node = _get(ipam, "node_name", str, "") or env.get("NODENAME", "") or posix.uname().nodename
    if "/" in c.node or "/" in c.network:
        raise bad("node and network names must not contain '/'")
    c.prefix = (_get(ipam, "etcd_prefix", str, DEFAULT_PREFIX) or DEFAULT_PREFIX).rstrip("/")
    ca = _get(ipam, "etcd_ca_cert_file", str, "")
    cert = _get(ipam, "etcd_cert_file", str, "")
    key = _get(ipam, "etcd_key_file", str, "")
    if bool(cert) != bool(key):
        raise bad("etcd_cert_file and etcd_key_file go together")
    c.tls = TLSFiles(ca, cert, key) if (ca or cert) else None
    tls = c.tls is not None
    eps = _get(ipam, "etcd_endpoints", (list, str), None)
    if isinstance(eps, str):
        eps = eps.split(",")
    if eps is None:
        host = _get(ipam, "etcd_host", str, "")
        eps = host.split(",") if host else []
    eps = [e.strip() for e in eps if isinstance(e, str) and e.strip()] if all(isinstance(e, str) for e in eps) \
        else None
    if not eps:
        raise bad("etcd_endpoints (or etcd_host) must list at least one endpoint")
    c.endpoints = [Endpoint(e, tls) for e in eps]
    c.username = _get(ipam, "etcd_username", str, "")
    c.password = _get(ipam, "etcd_password", str, "")
    c.strict_affinity = _get(ipam, "strict_affinity", bool, False)
    c.reclaim_age = _num(ipam, "empty_block_reclaim_seconds", 60.0)
    c.lock_dir = _get(ipam, "lock_dir", str, "") or DEFAULT_LOCK_DIR
    c.attempt = _num(ipam, "etcd_attempt_timeout_ms", 1500.0) / 1000
    c.budget = _num(ipam, "etcd_budget_ms", 4000.0) / 1000
    if c.attempt <= 0 or c.budget <= 0:
        raise bad("etcd timeouts must be positive")
    b4 = _block_len(ipam.get("block_size", 26), 4)
    b6 = _block_len(ipam.get("block_size_v6", 122), 6)

    sets: list[list[Range]] = []
    wa: list[Any] = []
    if ipam.get("range") is not None:
        wa.append(ipam)
    wa.extend(_get(ipam, "ipRanges", list, []))
    for item in wa:
        if not isinstance(item, dict):
            raise bad("ipRanges entries must be objects")
        gw = item.get("gateway")
        sets.append([make_range(item.get("range"), item.get("range_start"), item.get("range_end"), gw,
                                _get(item, "exclude", list, []), b4, b6, default_gateway=False)])
    for rs in _get(ipam, "ranges", list, []):
        if not isinstance(rs, list) or not rs:
            raise bad("ranges must be a list of non-empty lists of ranges")
        one = []
        for r in rs:
            if not isinstance(r, dict):
                raise bad("a range must be an object")
            one.append(make_range(r.get("subnet"), r.get("rangeStart"), r.get("rangeEnd"), r.get("gateway"),
                                  _get(r, "exclude", list, []), b4, b6, default_gateway=True))
        if len({x.family for x in one}) != 1:
            raise bad("a range set mixes IPv4 and IPv6")
        sets.append(one)
    if not sets:
        raise bad("no range: set range, ipRanges or ranges")
    c.sets = sets
    c.routes = []
    for r in _get(ipam, "routes", list, []):
        if not isinstance(r, dict) or not isinstance(r.get("dst"), str):
            raise bad("a route needs a dst")
        route = {k: v for k, v in r.items() if k in ("mtu", "advmss", "priority", "table", "scope")}
        route["dst"] = _cidr(r["dst"], "route dst")
        if r.get("gw") is not None:
            route["gw"] = _ip(r["gw"], "route gw")
        c.routes.append(route)
    c.dns = _get(ipam, "dns", dict, None)
    return c
