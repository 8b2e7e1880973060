"""Traffic control over rtnetlink: tbf / ingress / htb / pfifo qdiscs, htb classes, u32 filters with mirred actions,
ifb links.

Pure builders (`pack_*`) and parsers (`unpack_*`) of the TC messages the bandwidth plugin needs, plus thin
verbs that send them on the current namespace's (or the given) netlink socket. Byte layouts follow the kernel's
uapi structs in host order (big-endian only where the uapi says so: u32 selector values, protocols). Nested TC
attributes are sent without NLA_F_NESTED, as iproute2 and the Go netlink library do. No policy lives here.
"""

from __future__ import annotations

import struct

from pycni.netlink import codec as c
from pycni.netlink.socket import scoped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.netlink.socket import NetlinkSocket

# ---------------------------------------------------------------------------------------------
# Constants (linux/rtnetlink.h, linux/pkt_sched.h, linux/pkt_cls.h, linux/tc_act/tc_mirred.h)

RTM_NEWQDISC = 36
RTM_DELQDISC = 37
RTM_GETQDISC = 38
RTM_NEWTFILTER = 44
RTM_DELTFILTER = 45
RTM_GETTFILTER = 46

TCA_KIND = 1
TCA_OPTIONS = 2

TC_H_ROOT = 0xFFFFFFFF
TC_H_INGRESS = 0xFFFFFFF1
INGRESS_HANDLE = 0xFFFF0000  # ffff:

TCA_TBF_PARMS = 1
TCA_TBF_RTAB = 2
TCA_TBF_RATE64 = 4
TCA_TBF_BURST = 6

TCA_U32_CLASSID = 1
TCA_U32_SEL = 5
TCA_U32_ACT = 7
TC_U32_TERMINAL = 1

TCA_ACT_TAB = 1
TCA_ACT_KIND = 1
TCA_ACT_OPTIONS = 2
TCA_MIRRED_PARMS = 2

TCA_EGRESS_REDIR = 1
TCA_EGRESS_MIRROR = 2
TCA_INGRESS_REDIR = 3
TCA_INGRESS_MIRROR = 4

TC_ACT_OK = 0
TC_ACT_SHOT = 2
TC_ACT_PIPE = 3
TC_ACT_STOLEN = 4

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD

TCA_HTB_PARMS = 1
TCA_HTB_INIT = 2
TCA_HTB_RATE64 = 6
TCA_HTB_CEIL64 = 7
HTB_VERSION = 3

RTM_NEWTCLASS = 40

TIME_UNITS_PER_SEC = 1000000.0

_TCMSG = struct.Struct("=BxxxiIII")
_RATESPEC = struct.Struct("=BBHhHI")
_TBF_QOPT = struct.Struct("=12s12sIII")
_U32_SEL = struct.Struct("=BBBxHHhhI")
_U32_KEY = struct.Struct("=4s4sii")  # mask and value are big-endian on the wire
_TC_GEN_MIRRED = struct.Struct("=IIiiiiI")
_HTB_GLOB = struct.Struct("=IIIII")  # version, rate2quantum, defcls, debug, direct_pkts
_HTB_OPT = struct.Struct("=12s12sIIIII")  # rate, ceil, buffer, cbuffer, quantum, level, prio
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")

TCMSG_LEN = _TCMSG.size


def handle(major: int, minor: int) -> int:
    """TC_H_MAKE: "1:" is handle(1, 0), "ffff:" handle(0xffff, 0), class "1:2" handle(1, 2)."""
    return ((major & 0xFFFF) << 16) | (minor & 0xFFFF)


def handle_str(h: int) -> str:
    """tc's spelling of a handle: "1:", "1:2", "root", "ingress"."""
    if h == TC_H_ROOT:
        return "root"
    if h == TC_H_INGRESS:
        return "ingress"
    major, minor = h >> 16, h & 0xFFFF
    return f"{major:x}:" if minor == 0 else f"{major:x}:{minor:x}"


def _attr(atype: int, parts: list[bytes] | bytes) -> bytes:
    """A TC nest: the attribute type without NLA_F_NESTED (iproute2's addattr_nest)."""
    return c.pack_attr(atype, parts if isinstance(parts, bytes) else b"".join(parts))


def pack_tcmsg(ifindex: int, hdl: int = 0, parent: int = 0, info: int = 0) -> bytes:
    return _TCMSG.pack(0, ifindex, hdl, parent, info)


# ---------------------------------------------------------------------------------------------
# TBF parameters, as the reference computes them (float64 arithmetic, truncation to uint32)

LATENCY_MS = 25


def _u32(x: float | int) -> int:
    return int(x) & 0xFFFFFFFF


def tick_in_usec(psched: str | None = None) -> float:
    """Scheduler ticks per microsecond from /proc/net/psched (the Go netlink library's TickInUsec).

    0.0 when the file is unreadable, as the library (every buffer then computes to 0 ticks).
    """
    if psched is None:
        try:
            with open("/proc/net/psched") as f:
                psched = f.read()
        except OSError:
            return 0.0
    parts = psched.strip().split(" ")
    if len(parts) < 4:
        return 0.0
    try:
        vals = [int(p, 16) for p in parts[:4]]
    except ValueError:
        return 0.0
    if vals[2] == 1000000000:
        vals[0] = vals[1]
    if vals[1] == 0:
        return 0.0
    clock_factor = vals[2] / TIME_UNITS_PER_SEC
    return vals[0] / vals[1] * clock_factor


class TbfParams:
    """What a tbf qdisc is created with: rate (bytes/s), limit (bytes), buffer (scheduler ticks)."""

    __slots__ = ("rate", "limit", "buffer")

    def __init__(self, rate: int, limit: int, buffer: int) -> None:
        self.rate = rate
        self.limit = limit
        self.buffer = buffer

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TbfParams) and (self.rate, self.limit, self.buffer) == (
            other.rate, other.limit, other.buffer)

    def __repr__(self) -> str:
        return f"TbfParams(rate={self.rate}, limit={self.limit}, buffer={self.buffer})"


def tbf_params(rate_bits: int, burst_bits: int, tick: float | None = None) -> TbfParams:
    """rate = bits/8; buffer = ticks(burst*1e6/rate µs); limit = rate*latency + burst (latency 25 ms).

    ValueError for a rate under 8 bit/s (0 bytes/s: the reference would divide by zero).
    """
    if tick is None:
        tick = tick_in_usec()
    rate = rate_bits // 8
    if rate <= 0:
        raise ValueError(f"invalid rate: {rate_bits}")
    burst = _u32(burst_bits // 8)
    usec = _u32(float(burst) * TIME_UNITS_PER_SEC / float(rate))
    buffer = _u32(float(usec) * tick)
    latency = TIME_UNITS_PER_SEC * (LATENCY_MS / 1000.0)
    limit = (_u32(float(rate) * latency / TIME_UNITS_PER_SEC) + burst) & 0xFFFFFFFF
    return TbfParams(rate, limit, buffer)


# ---------------------------------------------------------------------------------------------
# Qdiscs


def pack_tbf_qdisc(ifindex: int, p: TbfParams, hdl: int = 0x10000, parent: int = TC_H_ROOT) -> bytes:
    """RTM_NEWQDISC payload: `tc qdisc add dev X parent P handle H tbf rate R limit L buffer B`."""
    rate_spec = _RATESPEC.pack(0, 0, 0, 0, 0, min(p.rate, 0xFFFFFFFF))
    peak = _RATESPEC.pack(0, 0, 0, 0, 0, 0)
    opts = [c.pack_attr(TCA_TBF_PARMS, _TBF_QOPT.pack(rate_spec, peak, p.limit, p.buffer, 0))]
    if p.rate >= 1 << 32:
        opts.append(c.pack_attr(TCA_TBF_RATE64, _U64.pack(p.rate)))
    return pack_tcmsg(ifindex, hdl, parent) + c.pack_str(TCA_KIND, "tbf") + _attr(TCA_OPTIONS, opts)


def pack_ingress_qdisc(ifindex: int) -> bytes:
    """`tc qdisc add dev X handle ffff: ingress` (an empty TCA_OPTIONS, as the Go library sends)."""
    return pack_tcmsg(ifindex, INGRESS_HANDLE, TC_H_INGRESS) + c.pack_str(TCA_KIND, "ingress") + _attr(TCA_OPTIONS, b"")


def pack_htb_qdisc(ifindex: int, default_minor: int, hdl: int = 0x10000, parent: int = TC_H_ROOT) -> bytes:
    """`tc qdisc add dev X ... handle H htb default N` (r2q 10, as tc)."""
    glob = _HTB_GLOB.pack(HTB_VERSION, 10, default_minor, 0, 0)
    return (pack_tcmsg(ifindex, hdl, parent) + c.pack_str(TCA_KIND, "htb")
            + _attr(TCA_OPTIONS, [c.pack_attr(TCA_HTB_INIT, glob)]))


def pack_htb_class(ifindex: int, classid: int, parent: int, rate: int, buffer: int, quantum: int = 0) -> bytes:
    """`tc class add dev X parent P classid C htb rate R ceil R buffer B` (rate in bytes/s, buffer in ticks).

    Rates of 2^32 bytes/s and more travel in TCA_HTB_RATE64/CEIL64 with ~0 in the 32-bit fields (as tc).
    """
    r32 = min(rate, 0xFFFFFFFF)
    spec = _RATESPEC.pack(0, 0, 0, 0, 0, r32)
    opt = _HTB_OPT.pack(spec, spec, buffer, buffer, quantum, 0, 0)
    opts = [c.pack_attr(TCA_HTB_PARMS, opt)]
    if rate >= 1 << 32:
        opts += [c.pack_attr(TCA_HTB_RATE64, _U64.pack(rate)), c.pack_attr(TCA_HTB_CEIL64, _U64.pack(rate))]
    return pack_tcmsg(ifindex, classid, parent) + c.pack_str(TCA_KIND, "htb") + _attr(TCA_OPTIONS, opts)


def pack_pfifo_qdisc(ifindex: int, limit: int, hdl: int, parent: int) -> bytes:
    """`tc qdisc add dev X parent P handle H pfifo limit N`."""
    return pack_tcmsg(ifindex, hdl, parent) + c.pack_str(TCA_KIND, "pfifo") + c.pack_attr(TCA_OPTIONS, _U32.pack(limit))


class Qdisc:
    """A dumped qdisc. `tbf` is set for tbf qdiscs; `options` keeps the raw TCA_OPTIONS payload."""

    __slots__ = ("kind", "ifindex", "handle", "parent", "options", "tbf")

    def __init__(self, kind: str, ifindex: int, hdl: int, parent: int, options: bytes = b"",
                 tbf: TbfParams | None = None) -> None:
        self.kind = kind
        self.ifindex = ifindex
        self.handle = hdl
        self.parent = parent
        self.options = options
        self.tbf = tbf

    def __repr__(self) -> str:
        return (f"Qdisc({self.kind} dev {self.ifindex} handle {handle_str(self.handle)} "
                f"parent {handle_str(self.parent)}{'' if self.tbf is None else ' ' + repr(self.tbf)})")


def unpack_qdisc(payload: bytes) -> Qdisc:
    if len(payload) < TCMSG_LEN:
        raise c.CodecError("truncated tcmsg")
    _fam, ifindex, hdl, parent, _info = _TCMSG.unpack_from(payload, 0)
    q = Qdisc("", ifindex, hdl, parent)
    for atype, data in c.parse_attrs(payload, TCMSG_LEN):
        if atype == TCA_KIND:
            q.kind = data.split(b"\0", 1)[0].decode()
        elif atype == TCA_OPTIONS:
            q.options = data
    if q.kind == "tbf" and q.options:
        rate64 = None
        parms = None
        for atype, data in c.parse_attrs(q.options):
            if atype == TCA_TBF_PARMS and len(data) >= _TBF_QOPT.size:
                parms = _TBF_QOPT.unpack_from(data, 0)
            elif atype == TCA_TBF_RATE64 and len(data) >= 8:
                rate64 = _U64.unpack_from(data, 0)[0]
        if parms is not None:
            rate = _RATESPEC.unpack(parms[0])[5]
            q.tbf = TbfParams(rate64 if rate64 is not None else rate, parms[2], parms[3])
    return q


# ---------------------------------------------------------------------------------------------
# u32 filters and mirred actions


class U32Key:
    """One u32 match: (packet word at `off` & mask) == val. mask/val are host integers (sent big-endian)."""

    __slots__ = ("mask", "val", "off", "offmask")

    def __init__(self, mask: int = 0, val: int = 0, off: int = 0, offmask: int = 0) -> None:
        self.mask = mask
        self.val = val
        self.off = off
        self.offmask = offmask

    def pack(self) -> bytes:
        return _U32_KEY.pack(self.mask.to_bytes(4, "big"), self.val.to_bytes(4, "big"), self.off, self.offmask)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, U32Key) and (self.mask, self.val, self.off, self.offmask) == (
            other.mask, other.val, other.off, other.offmask)

    def __repr__(self) -> str:
        return f"U32Key(mask={self.mask:#010x}, val={self.val:#010x}, off={self.off})"


def subnet_keys(cidr: str, source: bool) -> tuple[int, list[U32Key]]:
    """(ethernet protocol, keys) matching an IPv4/IPv6 source or destination subnet (`match ip src|dst`).

    Offsets are from the network header: IPv4 src 12 / dst 16, IPv6 src 8 / dst 24. An all-zero mask word
    needs no key; a /0 subnet therefore yields no keys (match every packet of the protocol).
    """
    ip, plen = c.split_cidr(cidr)
    raw = c.ip_bytes(ip)
    bits = len(raw) * 8
    mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
    value = int.from_bytes(raw, "big") & mask
    if len(raw) == 4:
        proto, off = ETH_P_IP, (12 if source else 16)
    else:
        proto, off = ETH_P_IPV6, (8 if source else 24)
    keys = []
    for i in range(len(raw) // 4):
        shift = bits - 32 * (i + 1)
        m = (mask >> shift) & 0xFFFFFFFF
        if m:
            keys.append(U32Key(m, (value >> shift) & 0xFFFFFFFF, off + 4 * i))
    return proto, keys


class Mirred:
    """A mirred action: eaction (TCA_EGRESS_REDIR, ...) to ifindex, then `action` (the tc_gen verdict)."""

    __slots__ = ("eaction", "ifindex", "action")

    def __init__(self, eaction: int, ifindex: int, action: int) -> None:
        self.eaction = eaction
        self.ifindex = ifindex
        self.action = action

    def pack(self, tab: int) -> bytes:
        parms = _TC_GEN_MIRRED.pack(0, 0, self.action, 0, 0, self.eaction, self.ifindex)
        return _attr(tab, [c.pack_str(TCA_ACT_KIND, "mirred"),
                           _attr(TCA_ACT_OPTIONS, [c.pack_attr(TCA_MIRRED_PARMS, parms)])])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mirred) and (self.eaction, self.ifindex, self.action) == (
            other.eaction, other.ifindex, other.action)

    def __repr__(self) -> str:
        return f"Mirred(eaction={self.eaction}, ifindex={self.ifindex}, action={self.action})"


def pack_u32_filter(ifindex: int, parent: int, prio: int, protocol: int, *, keys: list[U32Key] | None = None,
                    classid: int = 0, actions: list[Mirred] | None = None) -> bytes:
    """RTM_NEWTFILTER payload for a u32 filter. No keys = match all (one all-zero key, TERMINAL)."""
    keys = list(keys) if keys else [U32Key()]
    sel = _U32_SEL.pack(TC_U32_TERMINAL, 0, len(keys), 0, 0, 0, 0, 0) + b"".join(k.pack() for k in keys)
    info = (prio << 16) | int.from_bytes(protocol.to_bytes(2, "big"), "little" if _LITTLE else "big")
    opts = [c.pack_attr(TCA_U32_SEL, sel)]
    if classid:
        opts.append(c.pack_attr(TCA_U32_CLASSID, _U32.pack(classid)))
    if actions is not None:
        opts.append(_attr(TCA_U32_ACT, [a.pack(i + TCA_ACT_TAB) for i, a in enumerate(actions)]))
    return pack_tcmsg(ifindex, 0, parent, info) + c.pack_str(TCA_KIND, "u32") + _attr(TCA_OPTIONS, opts)


_LITTLE = struct.pack("=H", 1) == b"\x01\x00"


class Filter:
    """A dumped filter: kind, prio, protocol (host integer), classid, u32 keys and mirred actions."""

    __slots__ = ("kind", "ifindex", "handle", "parent", "prio", "protocol", "classid", "keys", "actions",
                 "has_selector")

    def __init__(self) -> None:
        self.kind = ""
        self.ifindex = 0
        self.handle = 0
        self.parent = 0
        self.prio = 0
        self.protocol = 0
        self.classid = 0
        self.keys: list[U32Key] = []
        self.actions: list[Mirred] = []
        self.has_selector = False

    def __repr__(self) -> str:
        return (f"Filter({self.kind} prio {self.prio} proto {self.protocol:#06x} handle {self.handle:#x} "
                f"classid {handle_str(self.classid) if self.classid else '-'} keys={self.keys} "
                f"actions={self.actions})")


def unpack_filter(payload: bytes) -> Filter:
    if len(payload) < TCMSG_LEN:
        raise c.CodecError("truncated tcmsg")
    f = Filter()
    _fam, f.ifindex, f.handle, f.parent, info = _TCMSG.unpack_from(payload, 0)
    f.prio = info >> 16
    f.protocol = int.from_bytes((info & 0xFFFF).to_bytes(2, "little" if _LITTLE else "big"), "big")
    options = b""
    for atype, data in c.parse_attrs(payload, TCMSG_LEN):
        if atype == TCA_KIND:
            f.kind = data.split(b"\0", 1)[0].decode()
        elif atype == TCA_OPTIONS:
            options = data
    if f.kind != "u32" or not options:
        return f
    for atype, data in c.parse_attrs(options):
        if atype == TCA_U32_CLASSID and len(data) >= 4:
            f.classid = _U32.unpack_from(data, 0)[0]
        elif atype == TCA_U32_SEL and len(data) >= _U32_SEL.size:
            f.has_selector = True
            nkeys = data[2]
            for i in range(nkeys):
                off = _U32_SEL.size + i * _U32_KEY.size
                if off + _U32_KEY.size > len(data):
                    break
                mask, val, koff, offmask = _U32_KEY.unpack_from(data, off)
                f.keys.append(U32Key(int.from_bytes(mask, "big"), int.from_bytes(val, "big"), koff, offmask))
        elif atype == TCA_U32_ACT:
            for _tab, adata in c.parse_attrs(data):
                kind = ""
                aopts = b""
                for k, v in c.parse_attrs(adata):
                    if k == TCA_ACT_KIND:
                        kind = v.split(b"\0", 1)[0].decode()
                    elif k == TCA_ACT_OPTIONS:
                        aopts = v
                if kind != "mirred":
                    continue
                for k, v in c.parse_attrs(aopts):
                    if k == TCA_MIRRED_PARMS and len(v) >= _TC_GEN_MIRRED.size:
                        _i, _cap, action, _r, _b, eaction, ifx = _TC_GEN_MIRRED.unpack_from(v, 0)
                        f.actions.append(Mirred(eaction, ifx, action))
    return f


# ---------------------------------------------------------------------------------------------
# Verbs (current namespace, or the socket given)

ADD = c.NLM_F_CREATE | c.NLM_F_EXCL  # `tc ... add`


def qdisc_add(payload: bytes, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(RTM_NEWQDISC, payload, ADD)


def qdisc_del(ifindex: int, hdl: int, parent: int, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(RTM_DELQDISC, pack_tcmsg(ifindex, hdl, parent))


def qdisc_list(ifindex: int = 0, nl: NetlinkSocket | None = None) -> list[Qdisc]:
    """Qdiscs of link `ifindex` (0 = every link), in the kernel's dump order (root first)."""
    with scoped(nl) as s:
        msgs = s.dump(RTM_GETQDISC, pack_tcmsg(ifindex))
    out = [unpack_qdisc(m.payload) for m in msgs if m.type == RTM_NEWQDISC]
    return [q for q in out if not ifindex or q.ifindex == ifindex]


def class_add(payload: bytes, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(RTM_NEWTCLASS, payload, ADD)


def filter_add(payload: bytes, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(RTM_NEWTFILTER, payload, ADD)


def filter_list(ifindex: int, parent: int, nl: NetlinkSocket | None = None) -> list[Filter]:
    """Filters attached under `parent` (a qdisc handle, or TC_H_INGRESS) of link `ifindex`."""
    with scoped(nl) as s:
        msgs = s.dump(RTM_GETTFILTER, pack_tcmsg(ifindex, 0, parent))
    return [unpack_filter(m.payload) for m in msgs if m.type == RTM_NEWTFILTER]


def pack_ifb(name: str, mtu: int) -> bytes:
    """RTM_NEWLINK payload for an ifb device created up, with this MTU and txqueuelen 0 (as the reference)."""
    link = c.Link(name=name, kind="ifb", mtu=mtu, txqlen=0, flags=c.IFF_UP, change=c.IFF_UP)
    return c.pack_link(link)


def add_ifb(name: str, mtu: int, nl: NetlinkSocket | None = None) -> None:
    with scoped(nl) as s:
        s.request(c.RTM_NEWLINK, pack_ifb(name, mtu), c.NLM_F_CREATE | c.NLM_F_EXCL)
