"""Route verbs over rtnetlink: list (filtered by table/dst/oif), add with explicit flag semantics, delete.

Acts on the namespace of the calling thread (or of `nl`) and never switches namespaces. A multipath route is one
message with RTA_MULTIPATH; nothing here decides *whether* to group routes (see ipam.configure.plan_routes).
"""

from __future__ import annotations

from pycni.netlink import codec as c
from pycni.netlink.socket import scoped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.netlink.socket import NetlinkSocket

Route = c.Route
Nexthop = c.Nexthop

# iproute2's verbs, as rtnetlink flags.
ADD = c.NLM_F_CREATE | c.NLM_F_EXCL  # `ip route add`
PREPEND = c.NLM_F_CREATE  # `ip route prepend` == the reference's RouteAddEcmp
APPEND = c.NLM_F_CREATE | c.NLM_F_APPEND  # `ip route append`
REPLACE = c.NLM_F_CREATE | c.NLM_F_REPLACE  # `ip route replace`


def make_route(dst: str, *, gw: str | None = None, oif: int | None = None, table: int = 0, priority: int = 0,
               scope: int = 0, mtu: int = 0, advmss: int = 0, nexthops: list[Nexthop] | None = None,
               protocol: int = c.RTPROT_BOOT) -> Route:
    """A unicast route to dst (CIDR, host bits kept as given). table 0 = main; priority 0 = not sent
    (kernel default: 0 for IPv4, 1024 for IPv6); mtu/advmss 0 = not sent."""
    ip, plen = c.split_cidr(dst)
    family = c.ip_family(ip)
    metrics: dict[int, int] = {}
    if mtu > 0:
        metrics[c.RTAX_MTU] = mtu
    if advmss > 0:
        metrics[c.RTAX_ADVMSS] = advmss
    return Route(family=family, dst=ip if plen else None, dst_len=plen, table=table or c.RT_TABLE_MAIN,
                 protocol=protocol, scope=scope, gateway=gw, oif=oif, priority=priority or None,
                 metrics=metrics, multipath=nexthops)


def route_add(route: Route, flags: int = ADD, nl: NetlinkSocket | None = None) -> None:
    """RTM_NEWROUTE with `flags` (default: exclusive create, like `ip route add`)."""
    with scoped(nl) as s:
        s.request(c.RTM_NEWROUTE, c.pack_route(route), flags)


def route_add_ecmp(route: Route, nl: NetlinkSocket | None = None) -> None:
    """The reference's RouteAddEcmp: CREATE only (`ip route prepend`)."""
    route_add(route, PREPEND, nl)


def route_replace(route: Route, nl: NetlinkSocket | None = None) -> None:
    route_add(route, REPLACE, nl)


def route_del(route: Route, nl: NetlinkSocket | None = None) -> None:
    """Delete the first matching route. Scope NOWHERE and protocol 0 make the kernel ignore those fields."""
    r = Route(family=route.family, dst=route.dst, dst_len=route.dst_len, table=route.table,
              protocol=c.RTPROT_UNSPEC, scope=c.RT_SCOPE_NOWHERE, type=route.type, gateway=route.gateway,
              oif=route.oif, priority=route.priority, multipath=route.multipath)
    with scoped(nl) as s:
        s.request(c.RTM_DELROUTE, c.pack_route(r))


def _dst_key(family: int, dst: str | None, plen: int) -> tuple[int, str, int]:
    if dst is None or plen == 0:
        return family, "", 0
    return family, c.mask_ip(dst, plen), plen


def route_list(family: int = 0, *, table: int | None = None, dst: str | None = None, oif: int | None = None,
               nl: NetlinkSocket | None = None) -> list[Route]:
    """Routes of `family` (0 = both). table None = every table; dst a CIDR (compared as a network, "0.0.0.0/0"
    matches default routes); oif matches the route's device or any multipath nexthop's device."""
    want_dst = None
    if dst is not None:
        ip, plen = c.split_cidr(dst)
        want_dst = _dst_key(c.ip_family(ip), ip, plen)
    with scoped(nl) as s:
        msgs = s.dump(c.RTM_GETROUTE, c.pack_rtmsg(family=family))
    routes = (c.unpack_route(m.payload) for m in msgs if m.type == c.RTM_NEWROUTE)
    return [r for r in routes
            if (not family or r.family == family)
            and (table is None or r.table == table)
            and (want_dst is None or _dst_key(r.family, r.dst, r.dst_len) == want_dst)
            and (oif is None or r.oif == oif or any(nh.ifindex == oif for nh in r.multipath))]
