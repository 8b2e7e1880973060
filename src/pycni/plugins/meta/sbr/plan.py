"""sbr's route bookkeeping: which table a rule gets, which main-table routes are copied into which table.

Pure: works on codec Route values, never talks to the kernel (plugin.py does).
"""

from __future__ import annotations

from _socket import AF_INET, AF_INET6

from pycni.netlink import codec as c
from pycni.spec import ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def next_table(used: set[int], candidate: int) -> int:
    table = candidate
    while table in used:
        table += 1
    return table


def _in_subnet(cidr: str, ip: str | None) -> bool:
    if ip is None:
        return False
    net_ip, plen = ipnet.parse_cidr(cidr)
    addr = ipnet.parse_ip(ip)
    return addr is not None and ipnet.contains(net_ip, plen, addr)


def route_belongs(route: Any, cidr: str) -> bool:
    """Upstream's copy test: prefsrc or a gateway inside the IP's subnet, or neither set (a "generic" route)."""
    gws = route.gateways()
    if route.prefsrc is None and not gws:
        return True
    return _in_subnet(cidr, route.prefsrc) or any(_in_subnet(cidr, g) for g in gws)


def copy_to_table(route: Any, table: int) -> Any:
    """The route in another table with its flags cleared (kernel-set ones would be refused), except onlink:
    without it an onlink gateway is unreachable (upstream clears it too, but never copies such a route)."""
    hops = [c.Nexthop(nh.gateway, nh.ifindex, nh.weight, nh.flags & c.RTNH_F_ONLINK) for nh in route.multipath]
    return c.Route(family=route.family, dst=route.dst, dst_len=route.dst_len, table=table, protocol=route.protocol,
                   scope=route.scope, type=route.type, gateway=route.gateway, oif=route.oif, priority=route.priority,
                   prefsrc=route.prefsrc, metrics=dict(route.metrics), multipath=hops,
                   flags=route.flags & c.RTNH_F_ONLINK, tos=route.tos)


def address_family(text: str) -> int:
    """AF_INET or AF_INET6 of an address or CIDR in text form."""
    return AF_INET6 if ipnet.family_of(text) == 6 else AF_INET


def plan_copies(ipcs: list[dict[str, Any]], tables: list[int], routes: list[Any],
                static_default: set[int] | None = None) -> list[tuple[Any, int]]:
    """(route, table) copies: upstream's per-IP rule, then every route no IP claimed goes to the first table
    of its family (else the first table) so that nothing is lost when main is emptied. A table whose default
    route comes from a static gateway (`static_default`) keeps it: main's default is not copied over it."""
    static_default = static_default or set()
    copies: list[tuple[Any, int]] = []
    claimed: set[int] = set()
    first_by_family: dict[int, int] = {}
    for ipc, table in zip(ipcs, tables):
        fam = address_family(ipc["address"])
        first_by_family.setdefault(fam, table)
        for i, r in enumerate(routes):
            if route_belongs(r, ipc["address"]):
                claimed.add(i)
                if not (table in static_default and _replaces_default(r, fam)):
                    copies.append((r, table))
    for i, r in enumerate(routes):
        if i not in claimed and tables:
            t = first_by_family.get(r.family, tables[0])
            if not (t in static_default and _replaces_default(r, r.family)):
                copies.append((r, t))
    return copies


def _replaces_default(r: Any, family: int) -> bool:
    """Would `ip route replace` of r overwrite the default route sbr added (same family, metric 0 / 1024)?"""
    return r.dst_len == 0 and r.family == family and (r.priority or 0) in ((0, 1024) if family == AF_INET6 else (0,))
