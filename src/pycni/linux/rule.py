"""Policy routing rules over rtnetlink (RTM_NEWRULE / DELRULE / GETRULE): build, parse, add, delete, list.

The message is a fib_rule_hdr (laid out like an rtmsg) plus FRA_* attributes, packed with the codec's
primitives. Field choices follow the Go netlink library's RuleAdd/RuleDel (priority, table >= 256 via FRA_TABLE,
action "to table"). Acts on the namespace of the calling thread (or of `nl`). No policy lives here.
"""

from __future__ import annotations

import struct
from _socket import AF_INET, AF_INET6

from pycni.netlink import codec as c
from pycni.netlink.socket import scoped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.netlink.socket import NetlinkSocket

RTM_NEWRULE = 32
RTM_DELRULE = 33
RTM_GETRULE = 34

FRA_DST = 1
FRA_SRC = 2
FRA_IIFNAME = 3
FRA_GOTO = 4
FRA_PRIORITY = 6
FRA_FWMARK = 10
FRA_FLOW = 11
FRA_SUPPRESS_IFGROUP = 13
FRA_SUPPRESS_PREFIXLEN = 14
FRA_TABLE = 15
FRA_FWMASK = 16
FRA_OIFNAME = 17
FRA_L3MDEV = 19
FRA_PROTOCOL = 21

FR_ACT_UNSPEC = 0
FR_ACT_TO_TBL = 1
FR_ACT_GOTO = 2

FIB_RULE_INVERT = 0x2

# fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags (the rtmsg layout)
_FIB_RULE_HDR = struct.Struct("=BBBBBBBBI")
_U32 = struct.Struct("=I")
HDR_LEN = _FIB_RULE_HDR.size


class Rule:
    """One rule. `src`/`dst` are addresses with their prefix lengths; `table` the effective table
    (FRA_TABLE when present, else the header's); `priority` None = let the kernel choose (on add)."""

    __slots__ = ("family", "src", "src_len", "dst", "dst_len", "tos", "table", "priority", "action", "flags",
                 "iifname", "oifname", "fwmark", "fwmask", "l3mdev", "protocol")

    def __init__(self, *, family: int = 0, src: str | None = None, src_len: int = 0, dst: str | None = None,
                 dst_len: int = 0, table: int = 0, priority: int | None = None, action: int = FR_ACT_TO_TBL,
                 tos: int = 0, flags: int = 0) -> None:
        self.family = family
        self.src = src
        self.src_len = src_len
        self.dst = dst
        self.dst_len = dst_len
        self.tos = tos
        self.table = table
        self.priority = priority
        self.action = action
        self.flags = flags
        self.iifname: str | None = None
        self.oifname: str | None = None
        self.fwmark: int | None = None
        self.fwmask: int | None = None
        self.l3mdev: int | None = None
        self.protocol: int | None = None

    @property
    def src_cidr(self) -> str | None:
        return None if self.src is None else f"{self.src}/{self.src_len}"

    def __repr__(self) -> str:
        return (f"Rule(family={self.family}, prio={self.priority}, from={self.src_cidr}, "
                f"to={None if self.dst is None else f'{self.dst}/{self.dst_len}'}, table={self.table}, "
                f"action={self.action})")


def from_source(cidr: str, table: int, priority: int | None = None) -> Rule:
    """`ip rule add from <cidr> table <table> [priority N]`."""
    ip, plen = c.split_cidr(cidr)
    return Rule(family=c.ip_family(ip), src=ip, src_len=plen, table=table, priority=priority)


def host_source(ip: str, table: int) -> Rule:
    """The sbr rule: from <ip>/32 (or /128) lookup <table>."""
    ip = c.canonical_ip(ip)
    return from_source(f"{ip}/{128 if ':' in ip else 32}", table)


def pack_rule(rule: Rule, create: bool = True) -> bytes:
    """fib_rule_hdr + FRA_* attributes for RTM_NEWRULE (create) or RTM_DELRULE.

    As the Go library: protocol byte RTPROT_BOOT, action "to table" on create, tables >= 256 only in FRA_TABLE.
    """
    family = rule.family
    if rule.src is not None:
        family = c.ip_family(rule.src)
    elif rule.dst is not None:
        family = c.ip_family(rule.dst)
    if rule.src is not None and rule.dst is not None and c.ip_family(rule.src) != c.ip_family(rule.dst):
        raise ValueError("source and destination ip are not the same IP family")
    table = rule.table
    hdr_table = table if 0 <= table < 256 else c.RT_TABLE_UNSPEC
    action = rule.action
    if action == FR_ACT_UNSPEC and create:
        action = FR_ACT_TO_TBL
    out = [_FIB_RULE_HDR.pack(family or AF_INET, rule.dst_len if rule.dst is not None else 0,
                              rule.src_len if rule.src is not None else 0, rule.tos, hdr_table, c.RTPROT_BOOT,
                              c.RT_SCOPE_UNIVERSE, action, rule.flags)]
    if rule.dst is not None:
        out.append(c.pack_attr(FRA_DST, c.ip_bytes(rule.dst)))
    if rule.src is not None:
        out.append(c.pack_attr(FRA_SRC, c.ip_bytes(rule.src)))
    if rule.priority is not None:
        out.append(c.pack_u32(FRA_PRIORITY, rule.priority))
    if rule.fwmark is not None:
        out.append(c.pack_u32(FRA_FWMARK, rule.fwmark))
    if rule.fwmask is not None:
        out.append(c.pack_u32(FRA_FWMASK, rule.fwmask))
    if table >= 256:
        out.append(c.pack_u32(FRA_TABLE, table))
    if rule.iifname is not None:
        out.append(c.pack_str(FRA_IIFNAME, rule.iifname))
    if rule.oifname is not None:
        out.append(c.pack_str(FRA_OIFNAME, rule.oifname))
    if rule.l3mdev is not None:
        out.append(c.pack_attr(FRA_L3MDEV, bytes([rule.l3mdev])))
    if rule.protocol is not None:
        out.append(c.pack_attr(FRA_PROTOCOL, bytes([rule.protocol])))
    return b"".join(out)


def unpack_rule(payload: bytes) -> Rule:
    if len(payload) < HDR_LEN:
        raise c.CodecError("truncated fib_rule_hdr")
    family, dst_len, src_len, tos, table, _res1, _res2, action, flags = _FIB_RULE_HDR.unpack_from(payload, 0)
    r = Rule(family=family, dst_len=dst_len, src_len=src_len, tos=tos, table=table, action=action, flags=flags)
    for atype, data in c.parse_attrs(payload, HDR_LEN):
        if atype == FRA_SRC:
            r.src = c.ip_str(family, data)
        elif atype == FRA_DST:
            r.dst = c.ip_str(family, data)
        elif atype == FRA_PRIORITY:
            r.priority = _U32.unpack_from(data, 0)[0]
        elif atype == FRA_TABLE:
            r.table = _U32.unpack_from(data, 0)[0]
        elif atype == FRA_FWMARK:
            r.fwmark = _U32.unpack_from(data, 0)[0]
        elif atype == FRA_FWMASK:
            r.fwmask = _U32.unpack_from(data, 0)[0]
        elif atype == FRA_IIFNAME:
            r.iifname = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif atype == FRA_OIFNAME:
            r.oifname = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif atype == FRA_L3MDEV and data:
            r.l3mdev = data[0]
        elif atype == FRA_PROTOCOL and data:
            r.protocol = data[0]
    if r.priority is None:  # the kernel omits FRA_PRIORITY for preference 0
        r.priority = 0
    if r.src is None:
        r.src_len = 0
    if r.dst is None:
        r.dst_len = 0
    return r


def rule_add(rule: Rule, nl: NetlinkSocket | None = None) -> None:
    """`ip rule add`: exclusive create (an identical rule is ExistsError)."""
    with scoped(nl) as s:
        s.request(RTM_NEWRULE, pack_rule(rule, True), c.NLM_F_CREATE | c.NLM_F_EXCL)


def rule_del(rule: Rule, nl: NetlinkSocket | None = None) -> None:
    """`ip rule del`: the kernel deletes the first rule matching every field given."""
    with scoped(nl) as s:
        s.request(RTM_DELRULE, pack_rule(rule, False))


def rule_list(family: int = 0, *, table: int | None = None, nl: NetlinkSocket | None = None) -> list[Rule]:
    """Rules of `family` (0 = IPv4 and IPv6), optionally only those of `table`."""
    families = (family,) if family else (AF_INET, AF_INET6)
    out: list[Rule] = []
    with scoped(nl) as s:
        for fam in families:
            msgs = s.dump(RTM_GETRULE, _FIB_RULE_HDR.pack(fam, 0, 0, 0, 0, 0, 0, 0, 0))
            for m in msgs:
                if m.type != RTM_NEWRULE:
                    continue
                r = unpack_rule(m.payload)
                if r.family != fam or (table is not None and r.table != table):
                    continue
                out.append(r)
    return out
