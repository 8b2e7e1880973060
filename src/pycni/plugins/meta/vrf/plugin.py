"""`vrf`, the implementation: put the container interface into a VRF device (upstream HEAD), creating it
on first use.

Recipe (ADD, in the container netns): find the VRF by name (another table given -> error; not a VRF -> error)
or create it (table given, else the lowest id >= 1 no other VRF uses) and set it up; enslave the interface after
saving its routes; re-add the global IPv6 addresses the kernel dropped on enslaving and wait (<= ~2.5 s) for
their local routes in the VRF table; re-add the saved routes into the VRF table. DEL releases the interface and
deletes the VRF when no member is left. CHECK: the interface must be a member. Needs CONFIG_NET_VRF.

Deliberate differences from upstream:
  * the routes carried into the VRF table are upstream's (universe scope) plus every other non-kernel route of
    the interface (e.g. link-scope routes an IPAM or ptp added, which upstream loses, cf. #866), re-added
    gateway-less routes first so that routes via an on-link gateway find it;
  * DEL releases the interface only from this VRF (upstream clears any master, e.g. a bridge);
  * DEL succeeds when the interface is already gone (upstream fails "resetMaster: could not get link by name",
    so a DEL after the main plugin's can never succeed and the VRF leaks); the VRF is still removed when empty.
"""

from __future__ import annotations

import time
from _socket import AF_INET6

from pycni.linux import addr, link, route
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.netns import NetNSError, NSPathNotExistError
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, NetlinkSocket, wrap
from pycni.plugins.shared.prev_result import without_prev_result
from pycni.skel import CmdArgs

from .config import parse_conf
from .device import VrfLink, free_table, pack_vrf, unpack_vrf_link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RETRY_BASE = 0.010
MAX_RETRIES = 8
_KEEP_ADDR_FLAGS = 0x02 | 0x04 | 0x10 | 0x100 | 0x200  # NODAD OPTIMISTIC HOMEADDRESS MANAGETEMPADDR NOPREFIXROUTE


class NotFound(Exception):
    pass


def _links() -> list[VrfLink]:
    with NetlinkSocket() as s:
        msgs = s.dump(c.RTM_GETLINK, c.pack_ifinfomsg())
    return [unpack_vrf_link(m.payload) for m in msgs if m.type == c.RTM_NEWLINK]


def find_vrf(name: str) -> VrfLink:
    """NotFound when no link has that name; ValueError when it is not a VRF."""
    try:
        found = unpack_vrf_link(link.get_link_payload(c.pack_link(c.Link(name=name))))
    except LinkNotFoundError:
        raise NotFound(name) from None
    except NetlinkError as exc:
        raise ValueError(str(exc)) from None
    if found.kind != "vrf":
        raise ValueError(f"Netlink {name} is not a VRF")
    return found


def create_vrf(name: str, table: int) -> VrfLink:
    if table == 0:
        table = free_table(_links())
    with wrap("could not add VRF %s", name), NetlinkSocket() as s:
        s.request(c.RTM_NEWLINK, pack_vrf(name, table), c.NLM_F_CREATE | c.NLM_F_EXCL)
    vrf = find_vrf(name)
    with wrap("could not set link up for VRF %s", name):
        link.link_set_up(vrf.index)
    return vrf


def saved_routes(index: int) -> list[Any]:
    return select_routes(route.route_list(table=c.RT_TABLE_MAIN, oif=index), index)


def select_routes(routes: list[Any], index: int) -> list[Any]:
    """Of the interface's main-table routes, those to carry into the VRF, gateway-less ones first: universe scope
    (upstream), plus every non-kernel unicast route of another scope except host (pycni). Multipath routes only
    when every next hop uses the interface."""
    out = []
    for r in routes:
        if r.multipath and any(nh.ifindex != index for nh in r.multipath):
            continue
        if r.scope == c.RT_SCOPE_UNIVERSE or (r.protocol != c.RTPROT_KERNEL and r.type == c.RTN_UNICAST
                                              and r.scope != c.RT_SCOPE_HOST):
            out.append(r)
    # a route via a gateway needs the route that reaches the gateway
    return sorted(out, key=lambda r: bool(r.gateways()))


def route_text(r: Any) -> str:
    """A route as upstream's error prints it: vishvananda/netlink's Route.String() (not a Go fmt verb)."""
    dst = r.dst_cidr if r.dst is not None else "<nil>"
    return (f"{{Ifindex: {r.oif or 0} Dst: {dst} Src: {r.prefsrc or '<nil>'} Gw: {r.gateway or '<nil>'} "
            f"Flags: [] Table: {r.table} Realm: 0}}")


def add_interface(vrf: VrfLink, ifname: str) -> None:
    try:
        lk = link.link_by_name(ifname)
    except NetlinkError:
        raise ValueError(f"could not get link by name {ifname}") from None
    if lk.master:
        with wrap("interface %s has already a master set, could not retrieve the name", ifname):
            master = link.link_by_index(lk.master)
        raise ValueError(f"interface {ifname} has already a master set: {master.name}")
    before = [a for a in addr.addr_list(lk.index, AF_INET6) if a.scope == c.RT_SCOPE_UNIVERSE]
    try:
        routes = saved_routes(lk.index)
    except NetlinkError:
        raise ValueError(f"failed getting all routes for {ifname}") from None
    with wrap("could not set vrf %s as master of %s", vrf.name, ifname):
        link.link_set_master(lk, vrf.index)
    after = {(a.ip, a.prefixlen) for a in addr.addr_list(lk.index, AF_INET6) if a.scope == c.RT_SCOPE_UNIVERSE}
    table = vrf.table or 0
    for a in before:
        if (a.ip, a.prefixlen) in after:
            continue
        with wrap("could not restore address %s to %s @ %s", a.cidr, ifname, vrf.name):
            addr.addr_add(lk.index, a.cidr, flags=a.flags & _KEEP_ADDR_FLAGS)
        for attempt in range(MAX_RETRIES + 1):
            with wrap("failed getting routes for %s table %d for dst %s", ifname, table, a.cidr):
                found = route.route_list(AF_INET6, table=table, dst=f"{a.ip}/128", oif=lk.index)
            if found:
                break
            if attempt == MAX_RETRIES:
                raise ValueError(f"failed getting local/host addresses for {ifname} in table {table} with dst {a.cidr}")
            time.sleep(RETRY_BASE * (1 << attempt))
    for r in routes:
        r.table = table
        with wrap("could not add route '%s'", route_text(r)):
            route.route_replace(r)


def members(vrf: VrfLink) -> list[VrfLink]:
    return [lk for lk in _links() if lk.master == vrf.index]


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    conf = parse_conf(args.conf)
    if conf.prev is None:
        raise ValueError("missing prevResult from earlier plugin")
    try:
        with netns.netns(args.netns):
            try:
                vrf = find_vrf(conf.vrfname)
                if conf.table != 0 and vrf.table != conf.table:
                    raise ValueError(f"VRF {conf.vrfname} already exist with different routing table {vrf.table}")
            except NotFound:
                vrf = create_vrf(conf.vrfname, conf.table)
            add_interface(vrf, args.ifname)
    except (ValueError, NetNSError, OSError) as exc:
        raise ValueError(f"cmdAdd failed: {exc}") from None
    return conf.prev


def cmd_del(args: CmdArgs) -> None:
    conf = parse_conf(without_prev_result(args.conf))  # DEL needs only vrfname: never fail on prevResult
    try:
        with netns.netns(args.netns):
            try:
                vrf = find_vrf(conf.vrfname)
            except NotFound:
                return
            try:
                lk = link.link_by_name(args.ifname)
            except LinkNotFoundError:
                lk = None  # already gone (pycni: not an error)
            except NetlinkError:
                raise ValueError(f"resetMaster: could not get link by name {args.ifname}") from None
            if lk is not None and lk.master == vrf.index:
                try:
                    link.link_set_master(lk, 0)
                except NetlinkError:
                    raise ValueError(f"resetMaster: could reset master to {args.ifname}") from None
            if not members(vrf):
                try:
                    link.link_del(vrf.index)
                except LinkNotFoundError:
                    pass
    except NSPathNotExistError:
        return
    except NetNSError as exc:
        raise ValueError(str(exc)) from None


def cmd_check(args: CmdArgs) -> None:
    conf = parse_conf(args.conf)
    if conf.prev is None:
        raise ValueError("missing prevResult from earlier plugin")
    try:
        with netns.netns(args.netns):
            try:
                vrf = find_vrf(conf.vrfname)
            except NotFound:
                raise ValueError("Link not found") from None
            if not any(m.name == args.ifname for m in members(vrf)):
                raise ValueError(f"failed to find {args.ifname} associated to vrf {conf.vrfname}")
    except NetNSError as exc:
        raise ValueError(str(exc)) from None


# Upstream's vrf registers no GC/STATUS handler (skel answers both with success): nothing to forward.
cmd_gc = cmd_status = None
