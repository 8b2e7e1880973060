"""`sbr`, the implementation: source-based routing for one container interface (upstream HEAD).

Recipe (ADD, serialised by a flock on the netns file): for each IP of the interface in prevResult, a rule
`from <ip>/32|128 lookup T` where T is the first table >= 100 that no rule or route uses (a new T per IP);
in T a default route via the static gateway of that family (`gateways`) or the IP's gateway, plus a copy of the
interface's main-table routes that belong to the IP (source or gateway inside its subnet, or neither set);
then those routes leave the main table (with `addSourceHints`: subnet routes stay, with a source hint).
With `table`, only the rules are added and no route moves. DEL deletes the rules whose source is an address
of the interface. CHECK does nothing. prevResult is passed through.

Deliberate differences from upstream:
  * no route of the interface is lost: a main-table route that matches none of the IPs (e.g. a gateway
    outside every subnet, which upstream deletes from main without copying it anywhere) is copied into the
    first table of its family (or the first table) before it leaves main, keeping its onlink flag; a multipath
    route is moved only if all its next hops use the interface;
  * a static gateway (`gateways`) stays the table's default route: main's default is not copied over it
    (upstream replaces it with main's, so the static gateway only works when main has no default);
  * the second and later tables are chosen against every route of the namespace (upstream then only looks at
    the interface's main routes, so it can pick a table already holding routes);
  * DEL also removes, from the tables of the rules it deletes (auto-chosen ones only: no `table` given), the
    routes through the interface, so an ADD/DEL cycle leaves no table behind;
  * the lock opens the netns file without O_CREAT: a missing netns is never created as an empty file; DEL with
    the netns gone (or CNI_NETNS empty) succeeds, since the rules went with it (upstream errors);
  * nothing is logged to stderr (upstream logs every step).
"""

from __future__ import annotations

import fcntl
import os
from _socket import AF_INET6

from pycni.gofmt import errno_text
from pycni.linux import addr, link, route, rule
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.netns import NetNSError, NSPathNotExistError
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, wrap
from pycni.plugins.shared.prev_result import without_prev_result
from pycni.skel import CmdArgs

from .config import ip_configs, parse_config, static_gateways
from .plan import address_family, copy_to_table, next_table, plan_copies

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIRST_TABLE = 100
RESERVED_TABLES = (253, 254, 255)  # default, main, local


# ---------------------------------------------------------------------------------------------
# Kernel work (inside the container namespace)


def _interface_routes(index: int) -> list[Any]:
    """The interface's main-table routes; multipath ones only when every next hop uses it."""
    out = []
    for r in route.route_list(table=c.RT_TABLE_MAIN, oif=index):
        if r.multipath and any(nh.ifindex != index for nh in r.multipath):
            continue
        out.append(r)
    return out


def do_routes(ipcs: list[dict[str, Any]], ifname: str, gateways: list[str], add_source_hints: bool) -> None:
    with wrap("Failed to list all rules"):
        rules = rule.rule_list()
    with wrap("Failed to list all routes"):
        all_routes = route.route_list()
    used = {r.table for r in rules} | {r.table for r in all_routes}
    with wrap("Cannot find network interface %s", ifname):
        lk = link.link_by_name(ifname)
    with wrap("Unable to list routes"):
        routes = _interface_routes(lk.index)
    gw4, gw6 = static_gateways(gateways)

    tables: list[int] = []
    static_default: set[int] = set()
    table = next_table(used, FIRST_TABLE)
    for ipc in ipcs:
        ip = ipc["address"].split("/")[0]
        tables.append(table)
        with wrap("Failed to add rule"):
            rule.rule_add(rule.host_source(ip, table))
        family = address_family(ip)
        static = gw6 if family == AF_INET6 else gw4
        gw = static or ipc.get("gateway")
        if static is not None:
            static_default.add(table)
        if gw is not None:
            with wrap("Failed to add default route to %s", gw):
                route.route_add(c.Route(family=family, table=table, gateway=gw, oif=lk.index))
        used.add(table)
        table = next_table(used, table + 1)

    for r, t in plan_copies(ipcs, tables, routes, static_default):
        with wrap("Failed to readd route"):
            route.route_replace(copy_to_table(r, t))

    if add_source_hints:
        for ipc in ipcs:
            ip, plen = c.split_cidr(ipc["address"])
            hint = c.Route(family=address_family(ip), dst=c.mask_ip(ip, plen) if plen else None,
                           dst_len=plen, oif=lk.index, prefsrc=ip, scope=c.RT_SCOPE_LINK)
            try:
                route.route_replace(hint)
            except NetlinkError:
                pass  # upstream only warns
        for r in routes:
            if r.scope != c.RT_SCOPE_LINK:
                try:
                    route.route_del(r)
                except NetlinkError:
                    pass  # upstream only warns
        return
    for r in routes:
        with wrap("Failed to delete route"):
            route.route_del(r)


def do_rules_with_table(ipcs: list[dict[str, Any]], table: int) -> None:
    for ipc in ipcs:
        with wrap("failed to add rule"):
            rule.rule_add(rule.host_source(ipc["address"].split("/")[0], table))


def tidy_rules(ifname: str, table: int | None) -> None:
    """Delete the rules whose source is an address of ifname (and, for auto tables, their routes via it)."""
    listing = wrap("Failed to list all rules to tidy") if table is None else \
        wrap("failed to list rules of table %d to tidy", table)
    with listing:
        rules = rule.rule_list(table=table)
    with wrap("Failed to get link %s", ifname):
        try:
            lk = link.link_by_name(ifname)
        except LinkNotFoundError:
            return
    with wrap("Failed to list all addrs"):
        addrs = {a.ip for a in addr.addr_list(lk.index)}
    err: str | None = None
    emptied: set[int] = set()
    for r in rules:
        if r.src is None or r.src not in addrs:
            continue
        try:
            rule.rule_del(r)
        except NetlinkError as exc:
            err = f"Failed to delete rule {exc}"
            continue
        if table is None and r.table >= FIRST_TABLE and r.table not in RESERVED_TABLES:
            emptied.add(r.table)
    for t in sorted(emptied):
        try:
            for rt in route.route_list(table=t, oif=lk.index):
                if rt.type == c.RTN_UNICAST:
                    route.route_del(rt)
        except NetlinkError:
            pass  # best effort: the rules are what routing depends on
    if err:
        raise ValueError(err)


class _Locked:
    """flock(LOCK_EX) on the netns file (serialises sbr calls per container), then enter the namespace."""

    __slots__ = ("path", "_fd", "_ns")

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self._ns: Any = None

    def __enter__(self) -> None:
        try:
            netns.check_netns_path(self.path)
        except NetNSError as exc:
            raise ValueError(str(exc)) from None
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ValueError(f"open {self.path}: {errno_text(exc)}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._ns = netns.netns(self.path)
            try:
                self._ns.__enter__()
            except NetNSError as exc:
                self._ns = None
                raise ValueError(str(exc)) from None
        except BaseException:
            os.close(self._fd)
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._ns is not None:
                self._ns.__exit__(*exc)
        finally:
            os.close(self._fd)  # releases the lock


# ---------------------------------------------------------------------------------------------
# Commands


def own_addresses_only(ipcs: list[dict[str, Any]], ifname: str) -> None:
    """Refuse a prevResult IP that is not on ifname (pycni; upstream adds its rule): that rule would outlive DEL,
    which finds the rules by the interface's own addresses."""
    try:
        lk = link.link_by_name(ifname)
    except LinkNotFoundError:
        return  # the route/rule steps report it, in upstream's words
    with wrap("Failed to list all addrs"):
        have = {a.ip for a in addr.addr_list(lk.index)}
    for ipc in ipcs:
        if ipc["address"].split("/")[0] not in have:
            raise ValueError(f"sbr: {ipc['address']} is not an address of {ifname}")


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    conf = parse_config(args.conf)
    if conf.prev is None:
        raise ValueError("This plugin must be called as chained plugin")
    ipcs = ip_configs(args.ifname, conf.prev)
    with _Locked(args.netns):
        own_addresses_only(ipcs, args.ifname)
        if conf.table is not None:
            do_rules_with_table(ipcs, conf.table)
        else:
            do_routes(ipcs, args.ifname, conf.gateways, conf.add_source_hints)
    return conf.prev


def cmd_del(args: CmdArgs) -> None:
    conf = parse_config(without_prev_result(args.conf))  # DEL needs only the table: never fail on prevResult
    if args.netns == "":
        return
    try:
        netns.check_netns_path(args.netns)
    except NSPathNotExistError:
        return  # the namespace, and the rules in it, are gone
    except Exception:
        pass  # _Locked reports it
    with _Locked(args.netns):
        tidy_rules(args.ifname, conf.table)


def cmd_check(args: CmdArgs) -> None:
    return None


# Upstream's sbr registers no GC/STATUS handler (skel answers both with success): nothing to forward.
cmd_gc = cmd_status = None
