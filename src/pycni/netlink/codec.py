"""Pure pack/unpack of rtnetlink messages (links, addresses, routes) in host byte order.

Only `struct` and `socket.inet_pton/inet_ntop` are used: no sockets are opened, no syscalls are made,
and nothing here knows which namespace it runs in. Addresses are canonical strings (inet_ntop form).
"""

from __future__ import annotations

import struct
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton

from pycni.spec.hwaddr import MACError, mac_str, parse_mac  # noqa: F401  (re-exported: links carry MACs)
from pycni.spec.ipnet import family_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# ---------------------------------------------------------------------------------------------
# Constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h, linux/veth.h)

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_ECHO = 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
# Flags on an NLMSG_ERROR reply.
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200

NLMSGERR_ATTR_MSG = 1

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26

NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000

IFLA_ADDRESS = 1
IFLA_BROADCAST = 2
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_TXQLEN = 13
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_IFALIAS = 20
IFLA_NET_NS_FD = 28
IFLA_EXT_MASK = 29
IFLA_LINK_NETNSID = 37
IFLA_ALT_IFNAME = 53

IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1

IF_OPER_UNKNOWN = 0
IF_OPER_NOTPRESENT = 1
IF_OPER_DOWN = 2
IF_OPER_LOWERLAYERDOWN = 3
IF_OPER_TESTING = 4
IF_OPER_DORMANT = 5
IF_OPER_UP = 6

IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_CACHEINFO = 6
IFA_FLAGS = 8

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_HOMEADDRESS = 0x10
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200

RTA_DST = 1
RTA_SRC = 2
RTA_IIF = 3
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_METRICS = 8
RTA_MULTIPATH = 9
RTA_TABLE = 15
RTA_VIA = 18
RTA_PREF = 20

RTAX_LOCK = 1
RTAX_MTU = 2
RTAX_ADVMSS = 8
RTAX_CC_ALGO = 16

RTNH_F_DEAD = 1
RTNH_F_PERVASIVE = 2
RTNH_F_ONLINK = 4
RTNH_F_OFFLOAD = 8
RTNH_F_LINKDOWN = 16

RT_TABLE_UNSPEC = 0
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255

RTPROT_UNSPEC = 0
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
RTPROT_STATIC = 4

RT_SCOPE_UNIVERSE = 0
RT_SCOPE_SITE = 200
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255

RTN_UNSPEC = 0
RTN_UNICAST = 1
RTN_LOCAL = 2

# ---------------------------------------------------------------------------------------------
# Fixed-size headers ("=" = native byte order, no alignment padding: netlink is host-endian)

_NLMSGHDR = struct.Struct("=IHHII")
_RTATTR = struct.Struct("=HH")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTNEXTHOP = struct.Struct("=HBBi")
_CACHEINFO = struct.Struct("=IIII")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_U16 = struct.Struct("=H")
_U8 = struct.Struct("=B")

NLMSG_HDRLEN = _NLMSGHDR.size
IFINFOMSG_LEN = _IFINFOMSG.size
IFADDRMSG_LEN = _IFADDRMSG.size
RTMSG_LEN = _RTMSG.size


class CodecError(ValueError):
    """Malformed bytes or an unencodable value."""


def align4(n: int) -> int:
    return (n + 3) & ~3


# ---------------------------------------------------------------------------------------------
# Message framing


class NlMsg:
    """One netlink message: header fields plus the raw payload after the 16-byte header."""

    __slots__ = ("type", "flags", "seq", "pid", "payload")

    def __init__(self, type: int, flags: int = 0, seq: int = 0, pid: int = 0, payload: bytes = b"") -> None:
        self.type = type
        self.flags = flags
        self.seq = seq
        self.pid = pid
        self.payload = payload

    def pack(self) -> bytes:
        return pack_msg(self.type, self.flags, self.seq, self.payload, self.pid)

    def __repr__(self) -> str:
        return (f"NlMsg(type={self.type}, flags={self.flags:#x}, seq={self.seq}, pid={self.pid}, "
                f"len={len(self.payload)})")


def pack_msg(msg_type: int, flags: int, seq: int, payload: bytes, pid: int = 0) -> bytes:
    length = NLMSG_HDRLEN + len(payload)
    return _NLMSGHDR.pack(length, msg_type, flags, seq, pid) + payload + b"\0" * (align4(length) - length)


def parse_messages(data: bytes) -> list[NlMsg]:
    """Split one datagram into its messages."""
    out: list[NlMsg] = []
    off = 0
    end = len(data)
    while off + NLMSG_HDRLEN <= end:
        length, mtype, flags, seq, pid = _NLMSGHDR.unpack_from(data, off)
        if length < NLMSG_HDRLEN or off + length > end:
            raise CodecError(f"bad netlink message length {length} at offset {off}")
        out.append(NlMsg(mtype, flags, seq, pid, bytes(data[off + NLMSG_HDRLEN : off + length])))
        off += align4(length)
    if off < end:
        raise CodecError(f"{end - off} trailing bytes after the last netlink message")
    return out


def parse_error(msg: NlMsg) -> tuple[int, str | None]:
    """Decode an NLMSG_ERROR payload: (positive errno or 0 for an ACK, extended-ack text or None)."""
    p = msg.payload
    if len(p) < 4:
        raise CodecError("truncated nlmsgerr")
    (err,) = _I32.unpack_from(p, 0)
    text: str | None = None
    if msg.flags & NLM_F_ACK_TLVS and len(p) >= 4 + NLMSG_HDRLEN:
        # The original request follows: its header only when CAPPED, else header and payload.
        (orig_len,) = _U32.unpack_from(p, 4)
        skip = NLMSG_HDRLEN if msg.flags & NLM_F_CAPPED else align4(orig_len)
        for atype, data in parse_attrs(p, 4 + skip):
            if atype == NLMSGERR_ATTR_MSG:
                text = data.split(b"\0", 1)[0].decode("utf-8", "replace")
    return -err, text


def pack_error(errno: int, request: NlMsg, *, ext_msg: str | None = None, seq: int | None = None) -> bytes:
    """Build an NLMSG_ERROR reply as the kernel would (used by tests and fakes)."""
    flags = NLM_F_CAPPED
    body = _I32.pack(-errno) + _NLMSGHDR.pack(NLMSG_HDRLEN + len(request.payload), request.type, request.flags,
                                               request.seq, request.pid)
    if ext_msg is not None:
        flags |= NLM_F_ACK_TLVS
        body += pack_attr(NLMSGERR_ATTR_MSG, ext_msg.encode() + b"\0")
    return pack_msg(NLMSG_ERROR, flags, request.seq if seq is None else seq, body, request.pid)


# ---------------------------------------------------------------------------------------------
# Attributes


def pack_attr(atype: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return _RTATTR.pack(length, atype) + data + b"\0" * (align4(length) - length)


def go_uint32(value: int) -> int:
    """Go's uint32(v) conversion (the low 32 bits), which the reference's netlink library applies to an int
    config value such as an MTU: out-of-range values then get the kernel's own answer (EINVAL), as upstream."""
    return value & 0xFFFFFFFF


def pack_u32(atype: int, value: int) -> bytes:
    return pack_attr(atype, _U32.pack(value))


def pack_str(atype: int, value: str) -> bytes:
    return pack_attr(atype, value.encode() + b"\0")


def pack_nested(atype: int, parts: Iterable[bytes]) -> bytes:
    return pack_attr(atype | NLA_F_NESTED, b"".join(parts))


def parse_attrs(data: bytes, offset: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
    """List of (type without NLA_F_* bits, payload) in wire order."""
    out: list[tuple[int, bytes]] = []
    end = len(data) if end is None else end
    off = offset
    while off + 4 <= end:
        length, atype = _RTATTR.unpack_from(data, off)
        if length < 4 or off + length > end:
            raise CodecError(f"bad attribute length {length} at offset {off}")
        out.append((atype & NLA_TYPE_MASK, bytes(data[off + 4 : off + length])))
        off += align4(length)
    return out


def _u32(data: bytes) -> int:
    return _U32.unpack_from(data, 0)[0]


def _cstr(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# Addresses


def ip_family(ip: str) -> int:
    return AF_INET6 if family_of(ip) == 6 else AF_INET


def ip_bytes(ip: str) -> bytes:
    try:
        return inet_pton(ip_family(ip), ip)
    except OSError:
        raise CodecError(f"invalid IP address: {ip}") from None


def ip_str(family: int, data: bytes) -> str:
    return inet_ntop(family, data)


def canonical_ip(ip: str) -> str:
    """The inet_ntop spelling of ip (lower-case, RFC 5952 compression for IPv6)."""
    return inet_ntop(ip_family(ip), ip_bytes(ip))


def split_cidr(cidr: str) -> tuple[str, int]:
    """'10.0.0.2/24' -> ('10.0.0.2', 24), keeping host bits; the prefix is range-checked."""
    ip, sep, plen = cidr.partition("/")
    if not sep or not plen.isdigit():
        raise CodecError(f"invalid CIDR address: {cidr}")
    bits = 128 if family_of(ip) == 6 else 32
    n = int(plen)
    if n > bits:
        raise CodecError(f"invalid CIDR address: {cidr}")
    return canonical_ip(ip), n


def mask_ip(ip: str, prefixlen: int) -> str:
    """The network address of ip/prefixlen."""
    raw = ip_bytes(ip)
    bits = len(raw) * 8
    value = int.from_bytes(raw, "big") & (((1 << prefixlen) - 1) << (bits - prefixlen))
    return inet_ntop(ip_family(ip), value.to_bytes(len(raw), "big"))


def ipv4_broadcast(ip: str, prefixlen: int) -> str:
    raw = int.from_bytes(ip_bytes(ip), "big")
    return inet_ntop(AF_INET, (raw | ((1 << (32 - prefixlen)) - 1)).to_bytes(4, "big"))


# ---------------------------------------------------------------------------------------------
# Links


class Link:
    """ifinfomsg plus the attributes pycni uses. None = attribute absent (not sent / not received)."""

    __slots__ = ("family", "type", "index", "flags", "change", "name", "mtu", "address", "broadcast",
                 "operstate", "link", "master", "txqlen", "kind", "peer", "netns_fd", "link_netnsid", "alias")

    family: int
    type: int
    index: int
    flags: int
    change: int
    name: str | None
    mtu: int | None
    address: str | None
    broadcast: str | None
    operstate: int | None
    link: int | None
    master: int | None
    txqlen: int | None
    kind: str | None
    peer: Link | None
    netns_fd: int | None
    link_netnsid: int | None
    alias: str | None

    def __init__(self, *, index: int = 0, name: str | None = None, flags: int = 0, change: int = 0,
                 mtu: int | None = None, address: str | None = None, kind: str | None = None,
                 peer: Link | None = None, netns_fd: int | None = None, master: int | None = None,
                 link: int | None = None, operstate: int | None = None, txqlen: int | None = None,
                 family: int = 0, type: int = 0) -> None:
        self.family = family
        self.type = type
        self.index = index
        self.flags = flags
        self.change = change
        self.name = name
        self.mtu = mtu
        self.address = address
        self.broadcast = None
        self.operstate = operstate
        self.link = link
        self.master = master
        self.txqlen = txqlen
        self.kind = kind
        self.peer = peer
        self.netns_fd = netns_fd
        self.link_netnsid = None
        self.alias = None

    @property
    def is_up(self) -> bool:
        return bool(self.flags & IFF_UP)

    def __repr__(self) -> str:
        return (f"Link(index={self.index}, name={self.name!r}, kind={self.kind!r}, flags={self.flags:#x}, "
                f"mtu={self.mtu}, address={self.address!r}, operstate={self.operstate}, link={self.link})")


def _link_attrs(link: Link) -> list[bytes]:
    attrs: list[bytes] = []
    if link.name is not None:
        # Names longer than IFNAMSIZ-1 can only be alternative names (lookup only).
        attrs.append(pack_str(IFLA_ALT_IFNAME if len(link.name.encode()) > 15 else IFLA_IFNAME, link.name))
    if link.mtu is not None:
        attrs.append(pack_u32(IFLA_MTU, go_uint32(link.mtu)))
    if link.address is not None:
        attrs.append(pack_attr(IFLA_ADDRESS, parse_mac(link.address)))
    if link.txqlen is not None:
        attrs.append(pack_u32(IFLA_TXQLEN, link.txqlen))
    if link.master is not None:
        attrs.append(pack_u32(IFLA_MASTER, link.master))
    if link.link is not None:
        attrs.append(pack_u32(IFLA_LINK, link.link))
    if link.operstate is not None:
        attrs.append(pack_attr(IFLA_OPERSTATE, _U8.pack(link.operstate)))
    if link.netns_fd is not None:
        attrs.append(pack_u32(IFLA_NET_NS_FD, link.netns_fd))
    if link.kind is not None:
        info = [pack_str(IFLA_INFO_KIND, link.kind)]
        if link.kind == "veth" and link.peer is not None:
            info.append(pack_nested(IFLA_INFO_DATA, [pack_attr(VETH_INFO_PEER, pack_link(link.peer))]))
        attrs.append(pack_nested(IFLA_LINKINFO, info))
    return attrs


def pack_link(link: Link) -> bytes:
    """ifinfomsg + attributes (the payload of RTM_NEWLINK/SETLINK/DELLINK/GETLINK)."""
    return _IFINFOMSG.pack(link.family, link.type, link.index, link.flags, link.change) + b"".join(_link_attrs(link))


def unpack_link(payload: bytes) -> Link:
    if len(payload) < IFINFOMSG_LEN:
        raise CodecError("truncated ifinfomsg")
    family, ltype, index, flags, change = _IFINFOMSG.unpack_from(payload, 0)
    link = Link(index=index, flags=flags, change=change, family=family, type=ltype)
    for atype, data in parse_attrs(payload, IFINFOMSG_LEN):
        if atype == IFLA_IFNAME:
            link.name = _cstr(data)
        elif atype == IFLA_MTU:
            link.mtu = _u32(data)
        elif atype == IFLA_ADDRESS:
            link.address = mac_str(data)
        elif atype == IFLA_BROADCAST:
            link.broadcast = mac_str(data)
        elif atype == IFLA_OPERSTATE:
            link.operstate = data[0]
        elif atype == IFLA_LINK:
            link.link = _u32(data)
        elif atype == IFLA_MASTER:
            link.master = _u32(data)
        elif atype == IFLA_TXQLEN:
            link.txqlen = _u32(data)
        elif atype == IFLA_LINK_NETNSID:
            link.link_netnsid = _I32.unpack_from(data, 0)[0]
        elif atype == IFLA_IFALIAS:
            link.alias = _cstr(data)
        elif atype == IFLA_NET_NS_FD:
            link.netns_fd = _u32(data)
        elif atype == IFLA_LINKINFO:
            for itype, idata in parse_attrs(data):
                if itype == IFLA_INFO_KIND:
                    link.kind = _cstr(idata)
                elif itype == IFLA_INFO_DATA and link.kind == "veth":
                    for vtype, vdata in parse_attrs(idata):
                        if vtype == VETH_INFO_PEER:
                            link.peer = unpack_link(vdata)
    return link


# ---------------------------------------------------------------------------------------------
# Addresses


class Addr:
    """ifaddrmsg plus attributes. For IPv4 `local` is the address and `address` the peer; `ip` hides that."""

    __slots__ = ("family", "prefixlen", "flags", "scope", "index", "address", "local", "broadcast", "label",
                 "preferred_lft", "valid_lft", "cstamp", "tstamp")

    family: int
    prefixlen: int
    flags: int
    scope: int
    index: int
    address: str | None
    local: str | None
    broadcast: str | None
    label: str | None
    preferred_lft: int | None
    valid_lft: int | None
    cstamp: int | None
    tstamp: int | None

    def __init__(self, *, family: int = 0, prefixlen: int = 0, flags: int = 0, scope: int = 0, index: int = 0,
                 address: str | None = None, local: str | None = None, broadcast: str | None = None,
                 label: str | None = None) -> None:
        self.family = family
        self.prefixlen = prefixlen
        self.flags = flags
        self.scope = scope
        self.index = index
        self.address = address
        self.local = local
        self.broadcast = broadcast
        self.label = label
        self.preferred_lft = None
        self.valid_lft = None
        self.cstamp = None
        self.tstamp = None

    @property
    def ip(self) -> str | None:
        return self.local if self.local is not None else self.address

    @property
    def cidr(self) -> str:
        return f"{self.ip}/{self.prefixlen}"

    def __repr__(self) -> str:
        return f"Addr({self.cidr}, index={self.index}, flags={self.flags:#x}, scope={self.scope})"


def pack_addr(addr: Addr) -> bytes:
    ip = addr.local if addr.local is not None else addr.address
    family = addr.family or (ip_family(ip) if ip else 0)
    # ifa_flags is 8 bits; IFA_FLAGS carries the full 32-bit set and wins when present.
    out = [_IFADDRMSG.pack(family, addr.prefixlen, addr.flags & 0xFF, addr.scope, addr.index)]
    if addr.local is not None:
        out.append(pack_attr(IFA_LOCAL, ip_bytes(addr.local)))
    if addr.address is not None:
        out.append(pack_attr(IFA_ADDRESS, ip_bytes(addr.address)))
    if addr.broadcast is not None:
        out.append(pack_attr(IFA_BROADCAST, ip_bytes(addr.broadcast)))
    if addr.label is not None:
        out.append(pack_str(IFA_LABEL, addr.label))
    if addr.flags:
        out.append(pack_u32(IFA_FLAGS, addr.flags))
    if addr.valid_lft is not None or addr.preferred_lft is not None:
        out.append(pack_attr(IFA_CACHEINFO, _CACHEINFO.pack(
            0xFFFFFFFF if addr.preferred_lft is None else addr.preferred_lft,
            0xFFFFFFFF if addr.valid_lft is None else addr.valid_lft, 0, 0)))
    return b"".join(out)


def unpack_addr(payload: bytes) -> Addr:
    if len(payload) < IFADDRMSG_LEN:
        raise CodecError("truncated ifaddrmsg")
    family, plen, flags, scope, index = _IFADDRMSG.unpack_from(payload, 0)
    a = Addr(family=family, prefixlen=plen, flags=flags, scope=scope, index=index)
    for atype, data in parse_attrs(payload, IFADDRMSG_LEN):
        if atype == IFA_ADDRESS:
            a.address = ip_str(family, data)
        elif atype == IFA_LOCAL:
            a.local = ip_str(family, data)
        elif atype == IFA_BROADCAST:
            a.broadcast = ip_str(family, data)
        elif atype == IFA_LABEL:
            a.label = _cstr(data)
        elif atype == IFA_FLAGS:
            a.flags = _u32(data)
        elif atype == IFA_CACHEINFO:
            a.preferred_lft, a.valid_lft, a.cstamp, a.tstamp = _CACHEINFO.unpack_from(data, 0)
    return a


# ---------------------------------------------------------------------------------------------
# Routes


class Nexthop:
    """One rtnexthop of an RTA_MULTIPATH route. weight is 1..256 (the kernel stores weight-1 in rtnh_hops)."""

    __slots__ = ("gateway", "ifindex", "weight", "flags")

    gateway: str | None
    ifindex: int
    weight: int
    flags: int

    def __init__(self, gateway: str | None = None, ifindex: int = 0, weight: int = 1, flags: int = 0) -> None:
        self.gateway = gateway
        self.ifindex = ifindex
        self.weight = weight
        self.flags = flags

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Nexthop) and (self.gateway, self.ifindex, self.weight, self.flags) == (
            other.gateway, other.ifindex, other.weight, other.flags)

    def __hash__(self) -> int:
        return hash((self.gateway, self.ifindex, self.weight, self.flags))

    def __repr__(self) -> str:
        return f"Nexthop(gateway={self.gateway!r}, ifindex={self.ifindex}, weight={self.weight}, flags={self.flags})"


class Route:
    """rtmsg plus attributes. `table` is the effective table (RTA_TABLE if present, else rtm_table).

    `dst` None means a zero-length prefix (default route). `metrics` maps RTAX_* to integers.
    """

    __slots__ = ("family", "dst", "dst_len", "src", "src_len", "tos", "table", "protocol", "scope", "type",
                 "flags", "gateway", "oif", "priority", "prefsrc", "metrics", "multipath", "pref")

    family: int
    dst: str | None
    dst_len: int
    src: str | None
    src_len: int
    tos: int
    table: int
    protocol: int
    scope: int
    type: int
    flags: int
    gateway: str | None
    oif: int | None
    priority: int | None
    prefsrc: str | None
    metrics: dict[int, int]
    multipath: list[Nexthop]
    pref: int | None

    def __init__(self, *, family: int = 0, dst: str | None = None, dst_len: int = 0, table: int = RT_TABLE_MAIN,
                 protocol: int = RTPROT_BOOT, scope: int = RT_SCOPE_UNIVERSE, type: int = RTN_UNICAST,
                 gateway: str | None = None, oif: int | None = None, priority: int | None = None,
                 prefsrc: str | None = None, metrics: dict[int, int] | None = None,
                 multipath: list[Nexthop] | None = None, flags: int = 0, tos: int = 0) -> None:
        self.family = family
        self.dst = dst
        self.dst_len = dst_len
        self.src = None
        self.src_len = 0
        self.tos = tos
        self.table = table
        self.protocol = protocol
        self.scope = scope
        self.type = type
        self.flags = flags
        self.gateway = gateway
        self.oif = oif
        self.priority = priority
        self.prefsrc = prefsrc
        self.metrics = {} if metrics is None else metrics
        self.multipath = [] if multipath is None else multipath
        self.pref = None

    @property
    def mtu(self) -> int | None:
        return self.metrics.get(RTAX_MTU)

    @property
    def advmss(self) -> int | None:
        return self.metrics.get(RTAX_ADVMSS)

    @property
    def dst_cidr(self) -> str:
        if self.dst is None:
            return "0.0.0.0/0" if self.family == AF_INET else "::/0"
        return f"{self.dst}/{self.dst_len}"

    def gateways(self) -> list[str]:
        """Every gateway of the route: the multipath nexthops' or the single one."""
        if self.multipath:
            return [nh.gateway for nh in self.multipath if nh.gateway is not None]
        return [] if self.gateway is None else [self.gateway]

    def __repr__(self) -> str:
        mp = f", multipath={self.multipath!r}" if self.multipath else ""
        return (f"Route({self.dst_cidr}, gw={self.gateway!r}, oif={self.oif}, table={self.table}, "
                f"prio={self.priority}, scope={self.scope}, proto={self.protocol}, type={self.type}, "
                f"metrics={self.metrics}{mp})")


def _gateway_attr(route_family: int, gw: str) -> bytes:
    raw = ip_bytes(gw)
    fam = AF_INET6 if len(raw) == 16 else AF_INET
    if fam == route_family:
        return pack_attr(RTA_GATEWAY, raw)
    # An IPv4 route through an IPv6 next hop needs RTA_VIA (struct rtvia: family + address).
    return pack_attr(RTA_VIA, _U16.pack(fam) + raw)


def pack_route(route: Route) -> bytes:
    """rtmsg + attributes (the payload of RTM_NEWROUTE/DELROUTE; also usable as a GETROUTE filter)."""
    family = route.family or (ip_family(route.dst) if route.dst else 0)
    table = route.table
    rtm_table = table if table < 256 else RT_TABLE_UNSPEC
    out = [_RTMSG.pack(family, route.dst_len, route.src_len, route.tos, rtm_table, route.protocol, route.scope,
                       route.type, route.flags)]
    if table >= 256:
        out.append(pack_u32(RTA_TABLE, table))
    if route.dst is not None:
        out.append(pack_attr(RTA_DST, ip_bytes(route.dst)))
    if route.src is not None:
        out.append(pack_attr(RTA_SRC, ip_bytes(route.src)))
    if route.prefsrc is not None:
        out.append(pack_attr(RTA_PREFSRC, ip_bytes(route.prefsrc)))
    if route.gateway is not None:
        out.append(_gateway_attr(family, route.gateway))
    if route.oif is not None:
        out.append(pack_u32(RTA_OIF, route.oif))
    if route.priority is not None:
        out.append(pack_u32(RTA_PRIORITY, route.priority))
    if route.metrics:
        out.append(pack_nested(RTA_METRICS, [pack_u32(k, v) for k, v in sorted(route.metrics.items())]))
    if route.multipath:
        hops = []
        for nh in route.multipath:
            if not 1 <= nh.weight <= 256:
                raise CodecError(f"nexthop weight {nh.weight} out of range 1-256")
            attrs = b"" if nh.gateway is None else _gateway_attr(family, nh.gateway)
            hops.append(_RTNEXTHOP.pack(_RTNEXTHOP.size + len(attrs), nh.flags, nh.weight - 1, nh.ifindex) + attrs)
        out.append(pack_attr(RTA_MULTIPATH, b"".join(hops)))
    return b"".join(out)


def _via(data: bytes) -> str:
    (fam,) = _U16.unpack_from(data, 0)
    return ip_str(fam, data[2:])


def unpack_route(payload: bytes) -> Route:
    if len(payload) < RTMSG_LEN:
        raise CodecError("truncated rtmsg")
    family, dst_len, src_len, tos, table, proto, scope, rtype, flags = _RTMSG.unpack_from(payload, 0)
    r = Route(family=family, dst_len=dst_len, table=table, protocol=proto, scope=scope, type=rtype, flags=flags,
              tos=tos)
    r.src_len = src_len
    for atype, data in parse_attrs(payload, RTMSG_LEN):
        if atype == RTA_DST:
            r.dst = ip_str(family, data)
        elif atype == RTA_SRC:
            r.src = ip_str(family, data)
        elif atype == RTA_GATEWAY:
            r.gateway = ip_str(family, data)
        elif atype == RTA_VIA:
            r.gateway = _via(data)
        elif atype == RTA_OIF:
            r.oif = _u32(data)
        elif atype == RTA_PRIORITY:
            r.priority = _u32(data)
        elif atype == RTA_PREFSRC:
            r.prefsrc = ip_str(family, data)
        elif atype == RTA_TABLE:
            r.table = _u32(data)
        elif atype == RTA_PREF:
            r.pref = data[0]
        elif atype == RTA_METRICS:
            for mtype, mdata in parse_attrs(data):
                if mtype != RTAX_CC_ALGO and len(mdata) >= 4:
                    r.metrics[mtype] = _u32(mdata)
        elif atype == RTA_MULTIPATH:
            off = 0
            while off + _RTNEXTHOP.size <= len(data):
                length, nflags, hops, ifindex = _RTNEXTHOP.unpack_from(data, off)
                if length < _RTNEXTHOP.size or off + length > len(data):
                    raise CodecError(f"bad rtnexthop length {length}")
                nh = Nexthop(None, ifindex, hops + 1, nflags)
                for ntype, ndata in parse_attrs(data, off + _RTNEXTHOP.size, off + length):
                    if ntype == RTA_GATEWAY:
                        nh.gateway = ip_str(family, ndata)
                    elif ntype == RTA_VIA:
                        nh.gateway = _via(ndata)
                r.multipath.append(nh)
                off += align4(length)
    return r


def pack_ifinfomsg(family: int = 0, index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFOMSG.pack(family, 0, index, flags, change)


def pack_ifaddrmsg(family: int = 0, index: int = 0) -> bytes:
    return _IFADDRMSG.pack(family, 0, 0, 0, index)


def pack_rtmsg(family: int = 0, table: int = 0) -> bytes:
    return _RTMSG.pack(family, 0, 0, 0, table, 0, 0, 0, 0)
