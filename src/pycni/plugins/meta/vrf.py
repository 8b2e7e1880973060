"""`vrf`: put the container interface into a VRF device (upstream HEAD), creating the VRF on first use.

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

from pycni.skel import CmdArgs, Plugin
from pycni.spec.version import ALL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IFLA_VRF_TABLE = 1
RETRY_BASE = 0.010
MAX_RETRIES = 8
_KEEP_ADDR_FLAGS = 0x02 | 0x04 | 0x10 | 0x100 | 0x200  # NODAD OPTIMISTIC HOMEADDRESS MANAGETEMPADDR NOPREFIXROUTE


class Conf:
    __slots__ = ("raw", "vrfname", "table", "prev")

    def __init__(self, raw: dict[str, Any], prev: dict[str, Any] | None) -> None:
        self.raw = raw
        self.vrfname: str = raw.get("vrfname", "")
        self.table: int = raw.get("table", 0)
        self.prev = prev


def parse_conf(conf: Any) -> Conf:
    from pycni.plugins.common import decode_conf, load_prev_result
    from pycni.spec.godecode import RAW, STRING

    raw = decode_conf(conf, [("vrfname", STRING), ("table", RAW)], "failed to load netconf", "VRFNetConf")
    table = raw.get("table")
    if table is None:
        raw["table"] = 0
    elif isinstance(table, bool) or not isinstance(table, int) or not 0 <= table <= 0xFFFFFFFF:
        from pycni.spec.godecode import json_kind, number_text

        kind = json_kind(table)
        if kind == "number":
            kind = f"number {number_text(table)}"  # as written, like Go ("number 1e3")
        raise ValueError(f"failed to load netconf: json: cannot unmarshal {kind} into Go struct field "
                         "VRFNetConf.table of type uint32")
    if not raw.get("vrfname"):
        raise ValueError("configuration is expected to have a valid vrf name")
    _, prev = load_prev_result(raw)
    return Conf(raw, prev)


# ---------------------------------------------------------------------------------------------
# VRF links (the codec's Link does not decode IFLA_INFO_DATA of a vrf: done here)


class VrfLink:
    __slots__ = ("index", "name", "kind", "table", "master")

    def __init__(self, index: int, name: str, kind: str | None, table: int | None, master: int) -> None:
        self.index = index
        self.name = name
        self.kind = kind
        self.table = table
        self.master = master


def unpack_vrf_link(payload: bytes) -> VrfLink:
    """Index, name, kind, VRF table (IFLA_INFO_DATA/IFLA_VRF_TABLE) and master of an RTM_NEWLINK payload."""
    import struct

    from pycni.netlink import codec as c

    lk = c.unpack_link(payload)
    table = None
    for atype, data in c.parse_attrs(payload, c.IFINFOMSG_LEN):
        if atype != c.IFLA_LINKINFO:
            continue
        for itype, idata in c.parse_attrs(data):
            if itype == c.IFLA_INFO_DATA and lk.kind == "vrf":
                for vtype, vdata in c.parse_attrs(idata):
                    if vtype == IFLA_VRF_TABLE and len(vdata) >= 4:
                        table = struct.unpack_from("=I", vdata)[0]
    return VrfLink(lk.index, lk.name or "", lk.kind, table, lk.master or 0)


def pack_vrf(name: str, table: int) -> bytes:
    """RTM_NEWLINK payload: `ip link add <name> type vrf table <table>`."""
    from pycni.netlink import codec as c

    info = [c.pack_str(c.IFLA_INFO_KIND, "vrf"),
            c.pack_nested(c.IFLA_INFO_DATA, [c.pack_u32(IFLA_VRF_TABLE, table)])]
    return c.pack_ifinfomsg() + c.pack_str(c.IFLA_IFNAME, name) + c.pack_nested(c.IFLA_LINKINFO, info)


def _links() -> list[VrfLink]:
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkSocket

    with NetlinkSocket() as s:
        msgs = s.dump(c.RTM_GETLINK, c.pack_ifinfomsg())
    return [unpack_vrf_link(m.payload) for m in msgs if m.type == c.RTM_NEWLINK]


class NotFound(Exception):
    pass


def find_vrf(name: str) -> VrfLink:
    """NotFound when no link has that name; ValueError when it is not a VRF."""
    from pycni.linux.link import get_link_payload
    from pycni.netlink import codec as c
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError

    try:
        found = unpack_vrf_link(get_link_payload(c.pack_link(c.Link(name=name))))
    except LinkNotFoundError:
        raise NotFound(name) from None
    except NetlinkError as exc:
        raise ValueError(str(exc)) from None
    if found.kind != "vrf":
        raise ValueError(f"Netlink {name} is not a VRF")
    return found


def free_table(links: list[VrfLink]) -> int:
    taken = {lk.table for lk in links if lk.kind == "vrf"}
    t = 1
    while t in taken:
        t += 1
    if t > 0xFFFFFFFE:
        raise ValueError("findFreeRoutingTableID: Failed to find an available routing id")
    return t


def create_vrf(name: str, table: int) -> VrfLink:
    from pycni.linux import link
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError, NetlinkSocket

    if table == 0:
        table = free_table(_links())
    try:
        with NetlinkSocket() as s:
            s.request(c.RTM_NEWLINK, pack_vrf(name, table), c.NLM_F_CREATE | c.NLM_F_EXCL)
    except NetlinkError as exc:
        raise ValueError(f"could not add VRF {name}: {exc}") from None
    vrf = find_vrf(name)
    try:
        link.link_set_up(vrf.index)
    except NetlinkError as exc:
        raise ValueError(f"could not set link up for VRF {name}: {exc}") from None
    return vrf


def saved_routes(index: int) -> list[Any]:
    from pycni.linux import route
    from pycni.netlink import codec as c

    return select_routes(route.route_list(table=c.RT_TABLE_MAIN, oif=index), index)


def select_routes(routes: list[Any], index: int) -> list[Any]:
    """Of the interface's main-table routes, those to carry into the VRF, gateway-less ones first: universe scope
    (upstream), plus every non-kernel unicast route of another scope except host (pycni). Multipath routes only
    when every next hop uses the interface."""
    from pycni.netlink import codec as c

    out = []
    for r in routes:
        if r.multipath and any(nh.ifindex != index for nh in r.multipath):
            continue
        if r.scope == c.RT_SCOPE_UNIVERSE or (r.protocol != c.RTPROT_KERNEL and r.type == c.RTN_UNICAST
                                              and r.scope != c.RT_SCOPE_HOST):
            out.append(r)
    # a route via a gateway needs the route that reaches the gateway
    return sorted(out, key=lambda r: bool(r.gateways()))


def _go_route(r: Any) -> str:
    dst = r.dst_cidr if r.dst is not None else "<nil>"
    return (f"{{Ifindex: {r.oif or 0} Dst: {dst} Src: {r.prefsrc or '<nil>'} Gw: {r.gateway or '<nil>'} "
            f"Flags: [] Table: {r.table} Realm: 0}}")


def add_interface(vrf: VrfLink, ifname: str) -> None:
    import time
    from _socket import AF_INET6

    from pycni.linux import addr, link, route
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError

    try:
        lk = link.link_by_name(ifname)
    except NetlinkError:
        raise ValueError(f"could not get link by name {ifname}") from None
    if lk.master:
        try:
            master = link.link_by_index(lk.master)
        except NetlinkError as exc:
            raise ValueError(f"interface {ifname} has already a master set, could not retrieve the name: {exc}") from None
        raise ValueError(f"interface {ifname} has already a master set: {master.name}")
    before = [a for a in addr.addr_list(lk.index, AF_INET6) if a.scope == c.RT_SCOPE_UNIVERSE]
    try:
        routes = saved_routes(lk.index)
    except NetlinkError:
        raise ValueError(f"failed getting all routes for {ifname}") from None
    try:
        link.link_set_master(lk, vrf.index)
    except NetlinkError as exc:
        raise ValueError(f"could not set vrf {vrf.name} as master of {ifname}: {exc}") from None
    after = {(a.ip, a.prefixlen) for a in addr.addr_list(lk.index, AF_INET6) if a.scope == c.RT_SCOPE_UNIVERSE}
    table = vrf.table or 0
    for a in before:
        if (a.ip, a.prefixlen) in after:
            continue
        try:
            addr.addr_add(lk.index, a.cidr, flags=a.flags & _KEEP_ADDR_FLAGS)
        except NetlinkError as exc:
            raise ValueError(f"could not restore address {a.cidr} to {ifname} @ {vrf.name}: {exc}") from None
        for attempt in range(MAX_RETRIES + 1):
            try:
                found = route.route_list(AF_INET6, table=table, dst=f"{a.ip}/128", oif=lk.index)
            except NetlinkError as exc:
                raise ValueError(f"failed getting routes for {ifname} table {table} for dst {a.cidr}: {exc}") from None
            if found:
                break
            if attempt == MAX_RETRIES:
                raise ValueError(f"failed getting local/host addresses for {ifname} in table {table} with dst {a.cidr}")
            time.sleep(RETRY_BASE * (1 << attempt))
    for r in routes:
        r.table = table
        try:
            route.route_replace(r)
        except NetlinkError as exc:
            raise ValueError(f"could not add route '{_go_route(r)}': {exc}") from None


def members(vrf: VrfLink) -> list[VrfLink]:
    return [lk for lk in _links() if lk.master == vrf.index]


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.netlink.netns import NetNSError, netns

    conf = parse_conf(args.conf)
    if conf.prev is None:
        raise ValueError("missing prevResult from earlier plugin")
    try:
        with netns(args.netns):
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
    from pycni.linux import link
    from pycni.netlink.netns import NetNSError, NSPathNotExistError, netns
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError

    conf = parse_conf(args.conf)
    try:
        with netns(args.netns):
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
    from pycni.netlink.netns import NetNSError, netns

    conf = parse_conf(args.conf)
    if conf.prev is None:
        raise ValueError("missing prevResult from earlier plugin")
    try:
        with netns(args.netns):
            try:
                vrf = find_vrf(conf.vrfname)
            except NotFound:
                raise ValueError("Link not found") from None
            if not any(m.name == args.ifname for m in members(vrf)):
                raise ValueError(f"failed to find {args.ifname} associated to vrf {conf.vrfname}")
    except NetNSError as exc:
        raise ValueError(str(exc)) from None


cmd_gc = cmd_status = None  # upstream's skel: no GC/STATUS handler, so both succeed doing nothing

PLUGIN = Plugin("vrf", impl=__name__, versions=ALL[ALL.index("0.3.1"):])  # transitional: moves into a package

