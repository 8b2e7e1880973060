"""Apply (configure_iface) or verify (check_iface) an IPAM result on one interface of the *current* netns.

Follows the reference's ConfigureIface step for step (same order, same error texts, no rollback), except:
  * routes sharing family, destination, table, priority and scope but with different gateways become ONE
    RTA_MULTIPATH route (real ECMP on IPv4 too; the reference adds them one by one and IPv4 then uses only the
    last gateway); a route's optional `weight` (1-256) becomes its nexthop weight;
  * route `mtu` / `advmss` are applied (RTA_METRICS);
  * dad="skip" adds IPv6 addresses with IFA_F_NODAD and does not wait for DAD;
  * the route list is planned (and a duplicate or bad weight rejected) before the first route is added.
Callers enter the container namespace first; this module never switches namespaces.
"""

from __future__ import annotations

import sys
import time
from _socket import AF_INET, AF_INET6

from pycni.gofmt import ipnet_text, mask_hex, q
from pycni.linux import sysctl
from pycni.linux.addr import addr_add, addr_list
from pycni.linux.link import link_by_name, link_set_up
from pycni.linux.route import ADD, PREPEND, route_add, route_list
from pycni.netlink import codec as c
from pycni.netlink.socket import NetlinkError, NetlinkSocket, wrap
from pycni.spec.errors import CNIError, internal
from pycni.spec.ipnet import family_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pycni.spec.result import Interface, IPConfig, Result, Route

DAD_WAIT = "wait"
DAD_SKIP = "skip"
SETTLE_INTERVAL = 0.05
SETTLE_TIMEOUT = 5.0
IPV6_DEFAULT_METRIC = 1024

DISABLE_IPV6 = "net/ipv6/conf/{}/disable_ipv6"  # slash form: interface names may contain dots
KEEP_ADDR_ON_DOWN = "net/ipv6/conf/{}/keep_addr_on_down"

_SCOPE_NAMES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}


# ---------------------------------------------------------------------------------------------
# Go-flavoured rendering for error texts (the reference formats its values with %v / %q)


def _go_ip(ip: str | None) -> str:
    return "<nil>" if ip is None else c.canonical_ip(ip)


def _go_ipconfig(ipc: IPConfig) -> str:
    """An IPConfig printed with %+v. The reference prints the Interface *pointer*; its value is shown here."""
    idx = ipc.get("interface")
    try:
        ip, plen = c.split_cidr(ipc["address"])
        addr = f"{{IP:{ip} Mask:{mask_hex(128 if family_of(ip) == 6 else 32, plen)}}}"
    except (KeyError, c.CodecError):
        addr = f"{{IP:{ipc.get('address')} Mask:}}"
    gw = ipc.get("gateway")
    return f"{{Interface:{'<nil>' if idx is None else idx} Address:{addr} Gateway:{_go_ip(gw)}}}"


def _go_scope(scope: int) -> str:
    return _SCOPE_NAMES.get(scope, "unknown")


# ---------------------------------------------------------------------------------------------
# Route planning (pure)


class PlannedRoute:
    """One kernel route to program: a plain route (one nexthop) or an RTA_MULTIPATH route (several).

    nexthops are (gateway or None, weight) in result order; `sources` are the result routes merged here.
    """

    __slots__ = ("family", "dst", "dst_len", "dst_text", "table", "priority", "scope", "mtu", "advmss",
                 "nexthops", "ifindex", "sources", "first_for_dst")

    family: int
    dst: str
    dst_len: int
    dst_text: str
    table: int
    priority: int
    scope: int
    mtu: int
    advmss: int
    nexthops: list[tuple[str | None, int]]
    ifindex: int
    sources: list[Route]
    first_for_dst: bool

    def __init__(self, family: int, dst: str, dst_len: int, dst_text: str, table: int, priority: int, scope: int,
                 ifindex: int) -> None:
        self.family = family
        self.dst = dst
        self.dst_len = dst_len
        self.dst_text = dst_text
        self.table = table  # as given (0 = not set = main), printed raw in errors like the reference
        self.priority = priority
        self.scope = scope
        self.mtu = 0
        self.advmss = 0
        self.nexthops = []
        self.ifindex = ifindex
        self.sources = []
        # No earlier planned route has the same kernel identity (dst, table, priority; scope is not part of it).
        self.first_for_dst = True

    @property
    def multipath(self) -> bool:
        return len(self.nexthops) > 1

    @property
    def gateways(self) -> list[str | None]:
        return [gw for gw, _w in self.nexthops]

    @property
    def add_flags(self) -> int:
        # A plain route is added exactly as the reference does (CREATE only, `ip route prepend`), so it still
        # coexists with e.g. the kernel's prefix route. A multipath route is pycni's own construct: EXCL keeps
        # IPv6 from silently merging it into a pre-existing same-metric route (changing its nexthop set) and
        # IPv4 from stacking it as a second alias. A route of this same result planned earlier for the same
        # destination (a link route, or another scope) would itself trip EXCL, so then CREATE only is used.
        return ADD if self.multipath and self.first_for_dst else PREPEND

    def to_route(self) -> c.Route:
        metrics: dict[int, int] = {}
        if self.mtu:
            metrics[c.RTAX_MTU] = self.mtu
        if self.advmss:
            metrics[c.RTAX_ADVMSS] = self.advmss
        r = c.Route(family=self.family, dst=self.dst, dst_len=self.dst_len, table=self.table or c.RT_TABLE_MAIN,
                    scope=self.scope, priority=self.priority or None, metrics=metrics)
        if self.multipath:
            r.multipath = [c.Nexthop(gw, self.ifindex, w) for gw, w in self.nexthops]
        else:
            r.gateway = self.nexthops[0][0]
            r.oif = self.ifindex
        return r

    def describe(self, ifname: str) -> str:
        """The reference's route description: `<dst %v> via <gw> dev <if> metric <p> (Scope: <s>, Table: <t>)`;
        a multipath route lists its gateways as a Go slice: `via [10.0.0.1 10.0.0.254]`."""
        gws = self.gateways
        via = _go_ip(gws[0]) if len(gws) == 1 else "[" + " ".join(_go_ip(g) for g in gws) + "]"
        return (f"{ipnet_text(*c.split_cidr(self.dst_text))} via {via} dev {ifname} metric {self.priority} "
                f"(Scope: {_go_scope(self.scope)}, Table: {self.table})")

    def __repr__(self) -> str:
        return (f"PlannedRoute({self.dst_text}, nexthops={self.nexthops}, table={self.table}, "
                f"priority={self.priority}, scope={self.scope}, mtu={self.mtu}, advmss={self.advmss})")


def _metrics_text(mtu: int, advmss: int) -> str:
    return f"mtu {mtu or 'unset'}, advmss {advmss or 'unset'}"


def _route_desc(dst: str, gw: str | None, ifname: str, prio: int, scope: int, table: int) -> str:
    return (f"{ipnet_text(*c.split_cidr(dst))} via {_go_ip(gw)} dev {ifname} metric {prio} "
            f"(Scope: {_go_scope(scope)}, Table: {table})")


def plan_routes(ifindex: int, routes: Sequence[Route], v4gw: str | None, v6gw: str | None, *,
                ifname: str | None = None) -> list[PlannedRoute]:
    """Group result routes into kernel routes, in order of first appearance.

    A route without `gw` takes v4gw/v6gw by the family of its dst (it stays a link route when that is None).
    Routes are grouped by (family, dst network, table [0 = main], priority [IPv6: 0 = 1024, the kernel's
    default], scope [IPv4 only: IPv6 routes have none]); each further gateway in a group becomes one more
    nexthop. Link routes are never grouped: a dev-only nexthop next to gatewayed ones on the same device adds
    nothing, so they are programmed as their own plain routes. The same gateway twice in a group (or the same
    link route twice) is rejected with the kernel's `file exists`, in the reference's message format.
    """
    name = ifname if ifname is not None else str(ifindex)
    plans: list[PlannedRoute] = []
    by_key: dict[tuple[int, str, int, int, int, int], list[PlannedRoute]] = {}
    kernel_keys: set[tuple[int, str, int, int, int, int]] = set()
    for r in routes:
        dst_text = r["dst"]
        ip, plen = c.split_cidr(dst_text)
        is_v4 = ":" not in ip
        family = AF_INET if is_v4 else AF_INET6
        gw = r.get("gw")
        if gw is None:
            gw = v4gw if is_v4 else v6gw
        if gw is not None:
            gw = c.canonical_ip(gw)
        table = r.get("table") or 0
        prio = r.get("priority") or 0
        scope = r.get("scope") or 0
        desc = _route_desc(dst_text, gw, name, prio, scope, table)
        if gw is not None and (":" not in gw) != is_v4:
            # Text of the Go netlink library, which refuses mixed families before sending anything.
            raise internal(f"failed to add route '{desc}': gateway, source, and destination ip are not the same "
                           f"IP family")
        weight = r.get("weight")
        if weight is None:
            weight = 1
        if type(weight) is not int or not 1 <= weight <= 256:
            raise internal(f"failed to add route '{desc}': invalid weight {weight!r}: must be an integer from 1 "
                           f"to 256")
        mtu = r.get("mtu") or 0
        advmss = r.get("advmss") or 0
        key = (family, c.mask_ip(ip, plen), plen, table or c.RT_TABLE_MAIN,
               prio or (0 if is_v4 else IPV6_DEFAULT_METRIC), scope if is_v4 else 0)
        same = by_key.setdefault(key, [])
        if any(gw in p.gateways for p in same):
            raise internal(f"failed to add route '{desc}': file exists")
        target = None
        if gw is not None:
            target = next((p for p in same if p.gateways[0] is not None), None)
        if target is None:
            target = PlannedRoute(family, ip, plen, dst_text, table, prio, scope, ifindex)
            kernel_key = key[:5] + (0,)
            target.first_for_dst = kernel_key not in kernel_keys
            kernel_keys.add(kernel_key)
            same.append(target)
            plans.append(target)
        if target.nexthops and (target.mtu, target.advmss) != (mtu, advmss):
            # The kernel keeps one set of metrics per (multipath) route: merging would apply one route's
            # mtu/advmss to the other's nexthop, so the result's routes must agree or differ in priority.
            first = _route_desc(target.dst_text, target.nexthops[0][0], name, prio, scope, table)
            raise internal(f"failed to add route '{desc}': its metrics ({_metrics_text(mtu, advmss)}) differ from "
                           f"those of route '{first}' ({_metrics_text(target.mtu, target.advmss)}) to the same "
                           f"destination; a multipath route has one set of metrics, so give the routes equal "
                           f"mtu/advmss or different priorities")
        target.mtu, target.advmss = mtu, advmss
        target.nexthops.append((gw, weight))
        target.sources.append(r)
    return plans


# ---------------------------------------------------------------------------------------------
# DAD


class SettleError(Exception):
    pass


def settle_addresses(ifname: str, timeout: float = SETTLE_TIMEOUT, nl: NetlinkSocket | None = None) -> None:
    """The reference's SettleAddresses: poll the link's IPv6 addresses every 50 ms until none is tentative;
    DADFAILED fails at once; past the deadline it fails only if the link is oper-up (no carrier = no DAD)."""
    with wrap("failed to retrieve link", error=SettleError):
        link = link_by_name(ifname, nl)
    deadline = time.monotonic() + timeout
    while True:
        with wrap("could not list addresses", error=SettleError):
            addrs = addr_list(link.index, AF_INET6, nl)
        if not addrs:
            return
        ok = True
        for a in addrs:
            if a.flags & c.IFA_F_DADFAILED:
                raise SettleError(f"link {ifname} has address {a.ip} in DADFAILED state")
            if a.flags & c.IFA_F_TENTATIVE:
                ok = False
                break
        if ok:
            return
        if time.monotonic() > deadline:
            with wrap("failed to retrieve link", error=SettleError):
                link = link_by_name(ifname, nl)
            if link.operstate == c.IF_OPER_UP:
                # The reference prints a Duration with %d (nanoseconds); seconds are printed here.
                raise SettleError(f"link {ifname} still has tentative addresses after {timeout:g} seconds")
            return
        time.sleep(SETTLE_INTERVAL)


# ---------------------------------------------------------------------------------------------
# ConfigureIface


def _enable_ipv6(ifname: str) -> None:
    for iface in ("lo", ifname):
        name = DISABLE_IPV6.format(iface)
        try:
            value = sysctl.get(name)
        except OSError as e:
            print(f"ipam_linux: failed to read sysctl {q(name)}: {e}", file=sys.stderr)
            continue
        if value == "0":
            continue
        try:
            sysctl.set(name, "0")
        except OSError as e:
            raise internal(f"failed to enable IPv6 for interface {q(iface)} ({name}={value}): {e}") from None
    try:
        sysctl.set(KEEP_ADDR_ON_DOWN.format(ifname), "1")
    except OSError as e:
        raise internal(f"failed to enable keep_addr_on_down for interface {q(ifname)}: {e}") from None


def _iface_ok(ipc: IPConfig, interfaces: list[Interface], ifname: str) -> bool:
    idx = ipc.get("interface")
    return type(idx) is int and 0 <= idx < len(interfaces) and interfaces[idx].get("name") == ifname


def _track_gateway(ipc: IPConfig, v4gw: str | None, v6gw: str | None) -> tuple[str | None, str | None]:
    # As the reference: the first IPv4 gateway, and the first IPv6 one; a missing gateway is "not IPv4".
    gw = ipc.get("gateway")
    if gw is None:
        return v4gw, v6gw
    if family_of(gw) == 4:
        if v4gw is None:
            v4gw = c.canonical_ip(gw)
    elif v6gw is None:
        v6gw = c.canonical_ip(gw)
    return v4gw, v6gw


def dad_mode(conf: dict[str, Any], raw: Any) -> str:
    """pycni extension: `"dad": "wait"|"skip"` in the plugin config or its ipam section (configure_iface's dad)."""
    mode = conf.get("dad") or ((raw.get("ipam") or {}).get("dad") if isinstance(raw, dict) else None) or DAD_WAIT
    if mode not in (DAD_WAIT, DAD_SKIP):
        raise ValueError(f'invalid "dad" value {mode!r}: expected "wait" or "skip"')
    return mode


def configure_iface(ifname: str, result: Result, *, dad: str = DAD_WAIT) -> None:
    """Add the result's addresses (those whose `interface` points at ifname) and routes to ifname, set it up.
    Raises CNIError(999, <reference text>) on failure; what was added before a failure stays."""
    if dad not in (DAD_WAIT, DAD_SKIP):
        raise ValueError(f"dad must be {DAD_WAIT!r} or {DAD_SKIP!r}, not {dad!r}")
    interfaces = result.get("interfaces") or []
    if not interfaces:
        raise internal("no interfaces to configure")
    with NetlinkSocket() as nl:
        with wrap("failed to lookup %q", ifname, error=internal):
            link = link_by_name(ifname, nl)

        v4gw: str | None = None
        v6gw: str | None = None
        ipv6_enabled = False
        for ipc in result.get("ips") or []:
            if ipc.get("interface") is None:
                continue  # the reference skips these entirely (no address, no gateway)
            if not _iface_ok(ipc, interfaces, ifname):
                raise internal(f"failed to add IP addr {_go_ipconfig(ipc)} to {q(ifname)}: invalid interface index")
            is_v6 = family_of(ipc["address"]) == 6
            if is_v6 and not ipv6_enabled:
                _enable_ipv6(ifname)
                ipv6_enabled = True
            flags = c.IFA_F_NODAD if is_v6 and dad == DAD_SKIP else 0
            try:
                addr_add(link.index, ipc["address"], flags=flags, nl=nl)
            except (NetlinkError, c.CodecError) as e:
                raise internal(f"failed to add IP addr {_go_ipconfig(ipc)} to {q(ifname)}: {e}") from None
            v4gw, v6gw = _track_gateway(ipc, v4gw, v6gw)

        with wrap("failed to set %q UP", ifname, error=internal):
            link_set_up(link, nl)

        if v6gw is not None and dad == DAD_WAIT:
            try:
                settle_addresses(ifname, SETTLE_TIMEOUT, nl)
            except SettleError as e:
                raise internal(f"failed to settle addresses for {q(ifname)}: {e}") from None

        for plan in plan_routes(link.index, result.get("routes") or [], v4gw, v6gw, ifname=ifname):
            with wrap("failed to add route '%s'", plan.describe(ifname), error=internal):
                route_add(plan.to_route(), plan.add_flags, nl)


# ---------------------------------------------------------------------------------------------
# CHECK


def _same_dst(r: c.Route, plan: PlannedRoute) -> bool:
    if r.family != plan.family or r.dst_len != plan.dst_len:
        return False
    if plan.dst_len == 0:
        return True
    return r.dst is not None and c.mask_ip(r.dst, r.dst_len) == c.mask_ip(plan.dst, plan.dst_len)


def _candidates(kernel: list[c.Route], plan: PlannedRoute) -> list[c.Route]:
    want_table = plan.table or c.RT_TABLE_MAIN
    v4 = plan.family == AF_INET
    want_prio = plan.priority or (0 if v4 else IPV6_DEFAULT_METRIC)
    out = []
    for r in kernel:
        if r.type != c.RTN_UNICAST or r.table != want_table or not _same_dst(r, plan):
            continue
        if (r.priority or 0) != want_prio:
            continue
        if v4 and r.scope != plan.scope:
            continue
        out.append(r)
    return out


def _hops(r: c.Route) -> list[tuple[str | None, int, int]]:
    """(gateway, ifindex, weight) of every path of r."""
    if r.multipath:
        return [(nh.gateway, nh.ifindex, nh.weight) for nh in r.multipath]
    return [(r.gateway, r.oif or 0, 1)]


def _missing(r: c.Route, plan: PlannedRoute) -> list[tuple[str | None, int]]:
    hops = _hops(r)
    out = []
    for gw, w in plan.nexthops:
        if plan.multipath:
            ok = (gw, plan.ifindex, w) in hops
        else:
            ok = any(h[0] == gw and h[1] == plan.ifindex for h in hops)
        if not ok:
            out.append((gw, w))
    return out


def _expected_text(plan: PlannedRoute, gw: str | None, weight: int, ifname: str) -> str:
    parts = [f"Expected route {plan.dst_text}"]
    if gw is not None:
        parts.append(f"via {gw}")
    parts.append(f"dev {ifname}")
    if plan.multipath:
        parts.append(f"weight {weight}")
    if plan.table and plan.table != c.RT_TABLE_MAIN:
        parts.append(f"table {plan.table}")
    if plan.priority:
        parts.append(f"metric {plan.priority}")
    return " ".join(parts) + " not found in routing table"


def check_iface(ifname: str, result: Result) -> None:
    """Verify that every address of the result meant for ifname is on it, and every (grouped) route exists:
    a multipath group must be ONE kernel route whose nexthops include each gateway with its weight.
    Raises CNIError(999, ...) naming the first missing item."""
    interfaces = result.get("interfaces") or []
    with NetlinkSocket() as nl:
        with wrap("failed to lookup %q", ifname, error=internal):
            link = link_by_name(ifname, nl)
        with wrap("Cannot obtain List of IP Addresses", error=internal):
            have = {(a.ip, a.prefixlen) for a in addr_list(link.index, 0, nl)}
        v4gw: str | None = None
        v6gw: str | None = None
        for ipc in result.get("ips") or []:
            if not _iface_ok(ipc, interfaces, ifname):
                continue
            ip, plen = c.split_cidr(ipc["address"])
            if (ip, plen) not in have:
                raise internal(f"Failed to match addr {ip}/{plen} on interface {ifname}")
            v4gw, v6gw = _track_gateway(ipc, v4gw, v6gw)
        plans = plan_routes(link.index, result.get("routes") or [], v4gw, v6gw, ifname=ifname)
        if not plans:
            return
        with wrap("failed to list routes", error=internal):
            kernel = route_list(0, nl=nl)
    for plan in plans:
        cands = _candidates(kernel, plan)
        best: list[tuple[str | None, int]] | None = None
        for r in cands:
            miss = _missing(r, plan)
            if best is None or len(miss) < len(best):
                best = miss
            if not miss:
                break
        if best is None:
            best = list(plan.nexthops)
        if best:
            gw, w = best[0]
            raise CNIError(999, _expected_text(plan, gw, w, ifname))
