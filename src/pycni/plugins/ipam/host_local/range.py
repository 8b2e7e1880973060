"""host-local's Range and RangeSet: canonicalisation, membership, overlap, text forms.

Addresses are ipnet pairs (family, integer), so a /64 or wider range is two integers, never a
list. Behaviour and messages follow upstream's range.go / range_set.go and pkg/ip's NextIP/Cmp.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec import ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pycni.spec.ipnet import IP


def ip_text(ip: IP | None) -> str:
    """Go's net.IP.String(), including "<nil>" for a missing address."""
    return "<nil>" if ip is None else ipnet.ip_str(ip)


def next_ip(ip: IP) -> IP:
    return (ip[0], ip[1] + 1)


def prev_ip(ip: IP) -> IP:
    return (ip[0], ip[1] - 1)


def cmp(a: IP | None, b: IP | None) -> int:
    """pkg/ip Cmp: -1/0/1, or -2 when either is missing or the families differ."""
    if a is None or b is None or a[0] != b[0]:
        return -2
    return (a[1] > b[1]) - (a[1] < b[1])


def not_v4_nor_v6(ip: IP | None) -> str:
    return f"IP {ip_text(ip)} not v4 nor v6"


class RangeError(ValueError):
    pass


class Range:
    """One `{subnet, rangeStart, rangeEnd, gateway}`; fields are None until given or defaulted.

    `mapped` marks a subnet written as IPv4-mapped IPv6 (`::ffff:a.b.c.d/n`): Go then holds a
    4-byte IP with a 16-byte mask, which canonicalisation rejects. `plen` is counted over the
    IP's own family in that case too (as ipnet.parse_cidr returns it).
    """

    __slots__ = ("subnet", "plen", "start", "end", "gateway", "mapped")

    def __init__(self, subnet: IP | None = None, plen: int = 0, start: IP | None = None,
                 end: IP | None = None, gateway: IP | None = None, mapped: bool = False) -> None:
        self.subnet = subnet
        self.plen = plen
        self.start = start
        self.end = end
        self.gateway = gateway
        self.mapped = mapped

    @classmethod
    def from_cidr(cls, cidr: str, start: str | None = None, end: str | None = None,
                  gateway: str | None = None) -> Range:
        """Convenience for tests and tools: text in, uncanonicalised Range out."""
        ip, plen = ipnet.parse_cidr(cidr)

        def p(s: str | None) -> IP | None:
            return None if s is None else ipnet.parse_ip(s)

        return cls(ip, plen, p(start), p(end), p(gateway), mapped=ipnet.family_of(cidr) == 6 and ip[0] == 4)

    def copy(self) -> Range:
        return Range(self.subnet, self.plen, self.start, self.end, self.gateway, self.mapped)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return NotImplemented
        return (self.subnet, self.plen, self.start, self.end, self.gateway) == (
            other.subnet, other.plen, other.start, other.end, other.gateway)

    def __repr__(self) -> str:
        sub = "<nil>" if self.subnet is None else ipnet.cidr_str(self.subnet, self.plen)
        return f"Range({sub}, {self}, gw={ip_text(self.gateway)})"

    def __str__(self) -> str:
        return f"{ip_text(self.start)}-{ip_text(self.end)}"

    def subnet_text(self) -> str:
        return "<nil>" if self.subnet is None else ipnet.cidr_str(self.subnet, self.plen)

    def canonicalize(self) -> None:
        sub = self.subnet
        if sub is None:
            raise RangeError(not_v4_nor_v6(None))
        fam = sub[0]
        width = ipnet.bits(fam)
        ones, mask_bits = self.plen, width
        if self.mapped:
            ones, mask_bits = self.plen + 96, 128
        if ones > mask_bits - 2:
            raise RangeError(f"Network {ipnet.cidr_str(sub, self.plen)} too small to allocate from")
        if self.mapped:
            raise RangeError("IPNet IP and Mask version mismatch")
        net = ipnet.network(sub, self.plen)
        if net != sub[1]:
            raise RangeError(f"Network has host bits set. For a subnet mask of length {ones} "
                             f"the network address is {ipnet.ip_str((fam, net))}")
        if self.gateway is None:
            self.gateway = (fam, net + 1)
        if self.start is not None:
            if not self.contains(self.start):
                raise RangeError(f"RangeStart {ip_text(self.start)} not in network {self.subnet_text()}")
        else:
            self.start = (fam, net + 1)
        if self.end is not None:
            if not self.contains(self.end):
                raise RangeError(f"RangeEnd {ip_text(self.end)} not in network {self.subnet_text()}")
        else:
            self.end = last_ip(sub, self.plen)

    def contains(self, addr: IP | None) -> bool:
        sub = self.subnet
        if addr is None or sub is None or addr[0] != sub[0]:
            return False
        if not ipnet.contains(sub, self.plen, addr):
            return False
        if self.start is not None and cmp(addr, self.start) < 0:
            return False
        if self.end is not None and cmp(addr, self.end) > 0:
            return False
        return True

    def overlaps(self, other: Range) -> bool:
        a, b = self.start, other.start
        if (a[0] if a else None) != (b[0] if b else None):
            return False
        return (self.contains(other.start) or self.contains(other.end)
                or other.contains(self.start) or other.contains(self.end))

    def size(self) -> int:
        """Addresses the iterator can hand out: start..end without this range's gateway."""
        if self.start is None or self.end is None or self.end[1] < self.start[1]:
            return 0
        n = self.end[1] - self.start[1] + 1
        gw = self.gateway
        if gw is not None and gw[0] == self.start[0] and self.start[1] <= gw[1] <= self.end[1]:
            n -= 1
        return n


def last_ip(subnet: IP, plen: int) -> IP:
    """The default rangeEnd: broadcast-1 for IPv4, the all-ones host for IPv6."""
    fam, v = subnet
    width = ipnet.bits(fam)
    host = (1 << (width - plen)) - 1
    end = v | host
    if fam == 4:
        end -= 1
    return (fam, end)


class RangeSet(list):  # of Range
    """A list of Range; one address is allocated from each set."""

    def __str__(self) -> str:
        return ",".join(str(r) for r in self)

    def copy(self) -> RangeSet:
        return RangeSet(r.copy() for r in self)

    def range_for(self, addr: IP | None) -> Range:
        if addr is None:
            raise RangeError(not_v4_nor_v6(None))
        for r in self:
            if r.contains(addr):
                return r
        raise RangeError(f"{ip_text(addr)} not in range set {self}")

    def find(self, addr: IP | None) -> Range | None:
        if addr is None:
            return None
        for r in self:
            if r.contains(addr):
                return r
        return None

    def contains(self, addr: IP | None) -> bool:
        return self.find(addr) is not None

    def overlaps(self, other: RangeSet) -> bool:
        return any(r.overlaps(r1) for r in self for r1 in other)

    def canonicalize(self) -> None:
        if not self:
            raise RangeError("empty range set")
        fam = 0
        for i, r in enumerate(self):
            r.canonicalize()
            rfam = r.start[0] if r.start else 0
            if i == 0:
                fam = rfam
            elif rfam != fam:
                raise RangeError("mixed address families")
        for i in range(len(self) - 1):
            for j in range(i + 1, len(self)):
                if self[i].overlaps(self[j]):
                    raise RangeError(f"subnets {self[i]} and {self[j]} overlap")

    def family(self) -> int:
        return self[0].start[0] if self and self[0].start else 0


class RangeIter:
    """Upstream's RangeIter: round-robin from just after the last reserved IP, gateway skipped.

    Every address of every range is produced once (the last reserved one last); `next()` returns
    (ip, prefix length, gateway) or None when the set is exhausted. Lazy: O(1) memory.
    """

    __slots__ = ("rangeset", "range_idx", "cur", "start_ip")

    def __init__(self, rangeset: RangeSet, last_reserved: IP | None) -> None:
        self.rangeset = rangeset
        self.range_idx = 0
        self.cur: IP | None = None
        self.start_ip: IP | None = None
        r = rangeset.find(last_reserved) if last_reserved is not None else None
        if r is not None:
            for i, ri in enumerate(rangeset):
                if ri.contains(last_reserved):
                    self.range_idx = i
                    self.cur = last_reserved
                    break
        else:
            self.start_ip = rangeset[0].start

    def next(self) -> tuple[IP, int, IP | None] | None:
        rs = self.rangeset
        while True:
            r = rs[self.range_idx]
            if self.cur is None:
                self.cur = r.start
                self.start_ip = self.cur
                if self.cur == r.gateway:
                    continue
                return self.cur, r.plen, r.gateway
            if self.cur == r.end:
                self.range_idx = (self.range_idx + 1) % len(rs)
                r = rs[self.range_idx]
                self.cur = r.start
            else:
                self.cur = (self.cur[0], self.cur[1] + 1)
            if self.start_ip is None:
                self.start_ip = self.cur
            elif self.cur == self.start_ip:
                return None
            if self.cur == r.gateway:
                continue
            return self.cur, r.plen, r.gateway

    def __iter__(self) -> Iterator[tuple[IP, int, IP | None]]:
        while True:
            item = self.next()
            if item is None:
                return
            yield item
