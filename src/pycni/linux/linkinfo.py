"""Kind-specific links (macvlan, ipvlan, 802.1Q vlan, dummy) and moving links between namespaces.

Builds the RTM_NEWLINK payloads the reference's netlink library sends for these kinds (same attribute order:
IFLA_LINK, IFLA_IFNAME, IFLA_MTU, IFLA_ADDRESS, IFLA_NET_NS_FD, IFLA_LINKINFO{KIND, DATA}), reads a link's
IFLA_INFO_DATA back, and offers the few verbs the link plugins share: rename, alias, the first default route's
device, delete-in-a-namespace tolerant of what is already gone, and a throwaway network namespace.
Acts on the namespace of the calling thread (or of `nl`); builders are pure and make no syscalls.
"""

from __future__ import annotations

import os
import struct

from pycni.linux.link import del_link_by_name, get_link_payload, link_by_index, link_by_name, link_set_name
from pycni.linux.route import route_list
from pycni.netlink import codec as c
from pycni.netlink.netns import NSPathNotExistError, netns
from pycni.netlink.socket import LinkNotFoundError, NetlinkSocket, scoped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# linux/if_link.h
IFLA_MACVLAN_MODE = 1
IFLA_MACVLAN_BC_QUEUE_LEN = 7
MACVLAN_MODE_PRIVATE = 1
MACVLAN_MODE_VEPA = 2
MACVLAN_MODE_BRIDGE = 4
MACVLAN_MODE_PASSTHRU = 8
MACVLAN_MODE_SOURCE = 16

IFLA_IPVLAN_MODE = 1
IFLA_IPVLAN_FLAG = 2
IPVLAN_MODE_L2 = 0
IPVLAN_MODE_L3 = 1
IPVLAN_MODE_L3S = 2

IFLA_VLAN_ID = 1
IFLA_VLAN_FLAGS = 2
IFLA_VLAN_PROTOCOL = 5

IFLA_TUN_OWNER = 1
IFLA_TUN_GROUP = 2
IFLA_TUN_TYPE = 3
IFLA_TUN_PI = 4
IFLA_TUN_VNET_HDR = 5
IFLA_TUN_PERSIST = 6
IFLA_TUN_MULTI_QUEUE = 7

RTM_F_CLONED = 0x200
CLONE_NEWNET = 0x40000000

_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")

CREATE_FLAGS = c.NLM_F_CREATE | c.NLM_F_EXCL


# ---------------------------------------------------------------------------------------------
# Payload builders (pure)


def new_link_payload(kind: str, name: str, *, parent: int = 0, mtu: int = 0, mac: str | None = None,
                     ns_fd: int | None = None, data: Iterable[bytes] | None = None) -> bytes:
    """ifinfomsg + attributes of an RTM_NEWLINK creating a `kind` link, in the reference library's order.
    mtu 0 = not sent; mac None = kernel-chosen; data = the IFLA_INFO_DATA attributes (None = no DATA)."""
    attrs = []
    if parent:
        attrs.append(c.pack_u32(c.IFLA_LINK, parent))
    attrs.append(c.pack_str(c.IFLA_IFNAME, name))
    if mtu > 0:
        attrs.append(c.pack_u32(c.IFLA_MTU, c.go_uint32(mtu)))
    if mac:
        attrs.append(c.pack_attr(c.IFLA_ADDRESS, c.parse_mac(mac)))
    if ns_fd is not None:
        attrs.append(c.pack_u32(c.IFLA_NET_NS_FD, ns_fd))
    info = [c.pack_attr(c.IFLA_INFO_KIND, kind.encode())]
    if data is not None:
        info.append(c.pack_nested(c.IFLA_INFO_DATA, data))
    attrs.append(c.pack_nested(c.IFLA_LINKINFO, info))
    return c.pack_ifinfomsg() + b"".join(attrs)


def macvlan_payload(name: str, parent: int, mode: int, *, mtu: int = 0, mac: str | None = None,
                    ns_fd: int | None = None, bcqueuelen: int = 0) -> bytes:
    data = [c.pack_u32(IFLA_MACVLAN_MODE, mode)]
    if bcqueuelen > 0:
        data.append(c.pack_u32(IFLA_MACVLAN_BC_QUEUE_LEN, bcqueuelen))
    return new_link_payload("macvlan", name, parent=parent, mtu=mtu, mac=mac, ns_fd=ns_fd, data=data)


def ipvlan_payload(name: str, parent: int, mode: int, *, mtu: int = 0, ns_fd: int | None = None) -> bytes:
    data = [c.pack_attr(IFLA_IPVLAN_MODE, _U16.pack(mode)), c.pack_attr(IFLA_IPVLAN_FLAG, _U16.pack(0))]
    return new_link_payload("ipvlan", name, parent=parent, mtu=mtu, ns_fd=ns_fd, data=data)


def vlan_payload(name: str, parent: int, vlan_id: int, *, mtu: int = 0, ns_fd: int | None = None) -> bytes:
    # struct ifla_vlan_flags {flags, mask}: the library always sends it, both zero here.
    data = [c.pack_attr(IFLA_VLAN_ID, _U16.pack(vlan_id)), c.pack_attr(IFLA_VLAN_FLAGS, _U32.pack(0) * 2)]
    return new_link_payload("vlan", name, parent=parent, mtu=mtu, ns_fd=ns_fd, data=data)


def dummy_payload(name: str) -> bytes:
    return new_link_payload("dummy", name)


def alias_payload(index: int, alias: str) -> bytes:
    """RTM_SETLINK payload setting (or, with "", clearing) the link's alias; the text is sent without a NUL."""
    return c.pack_ifinfomsg(index=index) + c.pack_attr(c.IFLA_IFALIAS, alias.encode())


def set_attrs_payload(index: int, *, mtu: int = 0, mac: str | None = None) -> bytes:
    """RTM_NEWLINK payload changing MTU and/or MAC of an existing link in one message (as `ip link set`)."""
    attrs = []
    if mtu:
        attrs.append(c.pack_u32(c.IFLA_MTU, c.go_uint32(mtu)))
    if mac:
        attrs.append(c.pack_attr(c.IFLA_ADDRESS, c.parse_mac(mac)))
    return c.pack_ifinfomsg(index=index) + b"".join(attrs)


# ---------------------------------------------------------------------------------------------
# Reading kind-specific data back


def info_data(payload: bytes) -> tuple[str | None, dict[int, bytes]]:
    """(IFLA_INFO_KIND, {IFLA_INFO_DATA attribute: raw value}) of an RTM_NEWLINK payload."""
    kind: str | None = None
    data: dict[int, bytes] = {}
    for atype, value in c.parse_attrs(payload, c.IFINFOMSG_LEN):
        if atype != c.IFLA_LINKINFO:
            continue
        for itype, ivalue in c.parse_attrs(value):
            if itype == c.IFLA_INFO_KIND:
                kind = ivalue.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif itype == c.IFLA_INFO_DATA:
                data = dict(c.parse_attrs(ivalue))
    return kind, data


def u16(data: dict[int, bytes], attr: int) -> int | None:
    v = data.get(attr)
    return None if v is None or len(v) < 2 else _U16.unpack_from(v, 0)[0]


def u32(data: dict[int, bytes], attr: int) -> int | None:
    v = data.get(attr)
    return None if v is None or len(v) < 4 else _U32.unpack_from(v, 0)[0]


class LinkDetail:
    """A link plus its kind-specific data (IFLA_INFO_DATA attributes, raw)."""

    __slots__ = ("link", "kind", "data")

    def __init__(self, link: c.Link, kind: str | None, data: dict[int, bytes]) -> None:
        self.link = link
        self.kind = kind
        self.data = data


def link_detail(name: str, nl: NetlinkSocket | None = None) -> LinkDetail:
    """LinkNotFoundError ("Link not found") when absent."""
    payload = get_link_payload(c.pack_link(c.Link(name=name)), nl)
    kind, data = info_data(payload)
    return LinkDetail(c.unpack_link(payload), kind, data)


# ---------------------------------------------------------------------------------------------
# Verbs


def add_link(payload: bytes, nl: NetlinkSocket | None = None) -> None:
    """RTM_NEWLINK with CREATE|EXCL (the reference's LinkAdd)."""
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, payload, CREATE_FLAGS)


def link_set_alias(index: int, alias: str, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_SETLINK, alias_payload(index, alias))


def link_set_attrs(index: int, *, mtu: int = 0, mac: str | None = None, nl: NetlinkSocket | None = None) -> None:
    if not mtu and not mac:
        return
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, set_attrs_payload(index, mtu=mtu, mac=mac))


def rename_link(cur: str, new: str, nl: NetlinkSocket | None = None) -> None:
    """The reference's RenameLink: look cur up, set its name (errors raw: "Link not found", "file exists")."""
    with scoped(nl) as s:
        lk = link_by_name(cur, s)
        link_set_name(lk, new, s)


def default_route_ifname(nl: NetlinkSocket | None = None) -> str:
    """Name of the device of the first default route of the main table (IPv4 routes come first in the dump),
    as the reference's getDefaultRouteInterfaceName; ValueError("no default route interface found")."""
    with scoped(nl) as s:
        for r in route_list(0, table=c.RT_TABLE_MAIN, nl=s):
            if r.flags & RTM_F_CLONED or r.dst_len != 0:
                continue
            return link_by_index(r.oif or 0, s).name or ""
    raise ValueError("no default route interface found")


def del_link_in_netns(netns_path: str, ifname: str) -> None:
    """The DEL step every link plugin shares: delete ifname inside netns_path; success when the namespace or
    the link is already gone. Other errors carry the reference's text (`failed to delete "x": ...`)."""
    try:
        with netns(netns_path):
            try:
                del_link_by_name(ifname)
            except LinkNotFoundError:
                pass
    except NSPathNotExistError:
        return


def _unshare_net() -> int:
    """Runs on a throwaway thread: unshare(CLONE_NEWNET) and return an fd of the new namespace."""
    unshare = getattr(os, "unshare", None)  # Python >= 3.12
    if unshare is not None:
        unshare(CLONE_NEWNET)
    else:
        import ctypes  # lazy: heavy stdlib, only on this branch

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def temp_netns() -> int:
    """A new, empty network namespace, alive while the returned fd is open (the reference's TempNetNS).
    It is made on a short-lived thread, so the caller's thread never leaves its namespace."""
    import threading  # lazy: heavy stdlib, only on this branch

    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["fd"] = _unshare_net()
        except OSError as e:
            box["err"] = e

    t = threading.Thread(target=work, name="pycni-tempns")
    t.start()
    t.join()
    if "err" in box:
        e = box["err"]
        assert isinstance(e, OSError)
        raise e
    fd = box["fd"]
    assert isinstance(fd, int)
    return fd


def fd_path(fd: int) -> str:
    """A path naming the namespace behind fd, for netns()."""
    return f"/proc/self/fd/{fd}"


def open_ns_fd(path: str) -> int:
    """An O_RDONLY|O_CLOEXEC fd of the namespace file at path (for IFLA_NET_NS_FD); the caller closes it."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def current_ns_fd() -> int:
    """An fd of the calling thread's own network namespace; the caller closes it."""
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
