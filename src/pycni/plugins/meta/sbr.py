"""`sbr`: source-based routing for one container interface (upstream HEAD).

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

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIRST_TABLE = 100
RESERVED_TABLES = (253, 254, 255)  # default, main, local


class Conf:
    __slots__ = ("raw", "version", "table", "gateways", "add_source_hints", "prev")

    def __init__(self, raw: dict[str, Any], prev: dict[str, Any] | None) -> None:
        self.raw = raw
        self.version: str = raw.get("cniVersion", "")
        self.table: int | None = raw.get("table")
        self.gateways: list[str] = raw.get("gateways") or []
        self.add_source_hints: bool = bool(raw.get("addSourceHints"))
        self.prev = prev


def parse_config(conf: Any) -> Conf:
    """Decode; prevResult is parsed with the config's version (no CNIVersion injection, as upstream's sbr)
    and converted to the current version."""
    from pycni.plugins.common import decode_conf, load_prev_result
    from pycni.spec.godecode import BOOL, INT, STRING

    fields = [("table", INT), ("gateways", ("list", STRING, "[]string")), ("addSourceHints", BOOL)]
    raw = decode_conf(conf, fields, "failed to parse network configuration", "PluginConf")
    _, prev = load_prev_result(raw, inject_version=False)
    return Conf(raw, prev)


def ip_configs(ifname: str, prev: dict[str, Any]) -> list[dict[str, Any]]:
    """getIPCfgs: the IPs whose interface index is absent, out of range, or names ifname."""
    ips = prev.get("ips") or []
    if not ips:
        raise ValueError(f"No IP addresses supplied on interface: {ifname}")
    ifaces = prev.get("interfaces") or []
    out = []
    for ipc in ips:
        idx = ipc.get("interface")
        if idx is not None and 0 <= idx < len(ifaces) and ifaces[idx].get("name") != ifname:
            continue
        out.append(ipc)
    return out


def static_gateways(gateways: list[str]) -> tuple[str | None, str | None]:
    """(IPv4, IPv6) static gateways, at most one per family, in Go's text."""
    from pycni.spec import ipnet

    if len(gateways) > 2:
        raise ValueError("gateways list cannot contain more than 2 entries (one IPv4, one IPv6)")
    v4: str | None = None
    v6: str | None = None
    for gw in gateways:
        ip = ipnet.parse_ip(gw)
        if ip is None:
            raise ValueError(f"invalid static gateway IP address: {gw}")
        text = ipnet.ip_str(ip)
        if ip[0] == 4:
            if v4 is not None:
                raise ValueError(f"gateways list contains multiple IPv4 addresses: {v4} and {gw}")
            v4 = text
        else:
            if v6 is not None:
                raise ValueError(f"gateways list contains multiple IPv6 addresses: {v6} and {gw}")
            v6 = text
    return v4, v6


def next_table(used: set[int], candidate: int) -> int:
    table = candidate
    while table in used:
        table += 1
    return table


# ---------------------------------------------------------------------------------------------
# Route bookkeeping (pure)


def _in_subnet(cidr: str, ip: str | None) -> bool:
    from pycni.spec import ipnet

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
    from pycni.netlink import codec as c

    hops = [c.Nexthop(nh.gateway, nh.ifindex, nh.weight, nh.flags & c.RTNH_F_ONLINK) for nh in route.multipath]
    return c.Route(family=route.family, dst=route.dst, dst_len=route.dst_len, table=table, protocol=route.protocol,
                   scope=route.scope, type=route.type, gateway=route.gateway, oif=route.oif, priority=route.priority,
                   prefsrc=route.prefsrc, metrics=dict(route.metrics), multipath=hops,
                   flags=route.flags & c.RTNH_F_ONLINK, tos=route.tos)


def plan_copies(ipcs: list[dict[str, Any]], tables: list[int], routes: list[Any],
                static_default: set[int] | None = None) -> list[tuple[Any, int]]:
    """(route, table) copies: upstream's per-IP rule, then every route no IP claimed goes to the first table
    of its family (else the first table) so that nothing is lost when main is emptied. A table whose default
    route comes from a static gateway (`static_default`) keeps it: main's default is not copied over it."""
    from _socket import AF_INET, AF_INET6

    static_default = static_default or set()
    copies: list[tuple[Any, int]] = []
    claimed: set[int] = set()
    first_by_family: dict[int, int] = {}
    for ipc, table in zip(ipcs, tables):
        fam = AF_INET6 if ":" in ipc["address"] else AF_INET
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
    from _socket import AF_INET6

    return r.dst_len == 0 and r.family == family and (r.priority or 0) in ((0, 1024) if family == AF_INET6 else (0,))


# ---------------------------------------------------------------------------------------------
# Kernel work (inside the container namespace)


def _interface_routes(index: int) -> list[Any]:
    """The interface's main-table routes; multipath ones only when every next hop uses it."""
    from pycni.linux import route
    from pycni.netlink import codec as c

    out = []
    for r in route.route_list(table=c.RT_TABLE_MAIN, oif=index):
        if r.multipath and any(nh.ifindex != index for nh in r.multipath):
            continue
        out.append(r)
    return out


def do_routes(ipcs: list[dict[str, Any]], ifname: str, gateways: list[str], add_source_hints: bool) -> None:
    from _socket import AF_INET, AF_INET6

    from pycni.linux import link, route, rule
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError

    try:
        rules = rule.rule_list()
    except NetlinkError as exc:
        raise ValueError(f"Failed to list all rules: {exc}") from None
    try:
        all_routes = route.route_list()
    except NetlinkError as exc:
        raise ValueError(f"Failed to list all routes: {exc}") from None
    used = {r.table for r in rules} | {r.table for r in all_routes}
    try:
        lk = link.link_by_name(ifname)
    except NetlinkError as exc:
        raise ValueError(f"Cannot find network interface {ifname}: {exc}") from None
    try:
        routes = _interface_routes(lk.index)
    except NetlinkError as exc:
        raise ValueError(f"Unable to list routes: {exc}") from None
    gw4, gw6 = static_gateways(gateways)

    tables: list[int] = []
    static_default: set[int] = set()
    table = next_table(used, FIRST_TABLE)
    for ipc in ipcs:
        ip = ipc["address"].split("/")[0]
        tables.append(table)
        try:
            rule.rule_add(rule.host_source(ip, table))
        except NetlinkError as exc:
            raise ValueError(f"Failed to add rule: {exc}") from None
        v6 = ":" in ip
        static = gw6 if v6 else gw4
        gw = static or ipc.get("gateway")
        if static is not None:
            static_default.add(table)
        if gw is not None:
            default = c.Route(family=AF_INET6 if v6 else AF_INET, table=table, gateway=gw, oif=lk.index)
            try:
                route.route_add(default)
            except NetlinkError as exc:
                raise ValueError(f"Failed to add default route to {gw}: {exc}") from None
        used.add(table)
        table = next_table(used, table + 1)

    for r, t in plan_copies(ipcs, tables, routes, static_default):
        try:
            route.route_replace(copy_to_table(r, t))
        except NetlinkError as exc:
            raise ValueError(f"Failed to readd route: {exc}") from None

    if add_source_hints:
        for ipc in ipcs:
            ip, plen = c.split_cidr(ipc["address"])
            hint = c.Route(family=AF_INET6 if ":" in ip else AF_INET, dst=c.mask_ip(ip, plen) if plen else None,
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
        try:
            route.route_del(r)
        except NetlinkError as exc:
            raise ValueError(f"Failed to delete route: {exc}") from None


def do_rules_with_table(ipcs: list[dict[str, Any]], table: int) -> None:
    from pycni.linux import rule
    from pycni.netlink.socket import NetlinkError

    for ipc in ipcs:
        try:
            rule.rule_add(rule.host_source(ipc["address"].split("/")[0], table))
        except NetlinkError as exc:
            raise ValueError(f"failed to add rule: {exc}") from None


def tidy_rules(ifname: str, table: int | None) -> None:
    """Delete the rules whose source is an address of ifname (and, for auto tables, their routes via it)."""
    from pycni.linux import addr, link, route, rule
    from pycni.netlink import codec as c
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError

    try:
        rules = rule.rule_list(table=table)
    except NetlinkError as exc:
        if table is not None:
            raise ValueError(f"failed to list rules of table {table} to tidy: {exc}") from None
        raise ValueError(f"Failed to list all rules to tidy: {exc}") from None
    try:
        lk = link.link_by_name(ifname)
    except LinkNotFoundError:
        return
    except NetlinkError as exc:
        raise ValueError(f"Failed to get link {ifname}: {exc}") from None
    try:
        addrs = {a.ip for a in addr.addr_list(lk.index)}
    except NetlinkError as exc:
        raise ValueError(f"Failed to list all addrs: {exc}") from None
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
        import fcntl
        import os

        from pycni.netlink.netns import NetNSError, check_netns_path, netns
        from pycni.gofmt import errno_text as strerror

        try:
            check_netns_path(self.path)
        except NetNSError as exc:
            raise ValueError(str(exc)) from None
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ValueError(f"open {self.path}: {strerror(exc.errno or 0)}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._ns = netns(self.path)
            try:
                self._ns.__enter__()
            except NetNSError as exc:
                self._ns = None
                raise ValueError(str(exc)) from None
        except BaseException:
            os.close(self._fd)
            raise

    def __exit__(self, *exc: Any) -> None:
        import os

        try:
            if self._ns is not None:
                self._ns.__exit__(*exc)
        finally:
            os.close(self._fd)  # releases the lock


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    conf = parse_config(args.conf)
    if conf.prev is None:
        raise ValueError("This plugin must be called as chained plugin")
    ipcs = ip_configs(args.ifname, conf.prev)
    with _Locked(args.netns):
        if conf.table is not None:
            do_rules_with_table(ipcs, conf.table)
        else:
            do_routes(ipcs, args.ifname, conf.gateways, conf.add_source_hints)
    return conf.prev


def cmd_del(args: CmdArgs) -> None:
    from pycni.netlink.netns import NSPathNotExistError, check_netns_path

    conf = parse_config(args.conf)
    if args.netns == "":
        return
    try:
        check_netns_path(args.netns)
    except NSPathNotExistError:
        return  # the namespace, and the rules in it, are gone
    except Exception:
        pass  # _Locked reports it
    with _Locked(args.netns):
        tidy_rules(args.ifname, conf.table)


def cmd_check(args: CmdArgs) -> None:
    return None


cmd_gc = cmd_status = None  # upstream's skel: no GC/STATUS handler, so both succeed doing nothing

PLUGIN = Plugin("sbr", impl=__name__)  # transitional: moves into a package

