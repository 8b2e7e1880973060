"""VRF devices in netlink terms: decoding a link's VRF table, the RTM_NEWLINK payload that creates one, a free table.

Pure: bytes in, values out (the codec's Link does not decode IFLA_INFO_DATA of a vrf: done here).
"""

from __future__ import annotations

import struct

from pycni.netlink import codec as c

IFLA_VRF_TABLE = 1


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
    info = [c.pack_str(c.IFLA_INFO_KIND, "vrf"),
            c.pack_nested(c.IFLA_INFO_DATA, [c.pack_u32(IFLA_VRF_TABLE, table)])]
    return c.pack_ifinfomsg() + c.pack_str(c.IFLA_IFNAME, name) + c.pack_nested(c.IFLA_LINKINFO, info)


def free_table(links: list[VrfLink]) -> int:
    taken = {lk.table for lk in links if lk.kind == "vrf"}
    t = 1
    while t in taken:
        t += 1
    if t > 0xFFFFFFFE:
        raise ValueError("findFreeRoutingTableID: Failed to find an available routing id")
    return t
