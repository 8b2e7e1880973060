"""cluster-ipam's block arithmetic and allocation decisions: pure integers and strings, no etcd, no I/O.

A range's subnet is carved into aligned blocks of `block_len` (e.g. /26); a block holds at most
256 addresses, so everything per block is cheap, and nothing here ever walks a whole range.
"""

from __future__ import annotations

import binascii

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


class Range:
    """One configured range: family 4/6, subnet (net, plen), inclusive usable bounds [start, end],
    optional gateway, inclusive excluded intervals, and the pool's block prefix length."""

    __slots__ = ("block_len", "end", "excludes", "family", "gateway", "net", "plen", "start")

    def __init__(self, family: int, net: int, plen: int, start: int, end: int, gateway: int | None = None,
                 excludes: list[tuple[int, int]] | None = None, block_len: int = 26) -> None:
        self.family = family
        self.net = net
        self.plen = plen
        self.start = start
        self.end = end
        self.gateway = gateway
        self.excludes = excludes or []
        self.block_len = max(block_len, plen)

    @property
    def width(self) -> int:
        return 32 if self.family == 4 else 128

    @property
    def bsize(self) -> int:
        return 1 << (self.width - self.block_len)

    @property
    def first_block(self) -> int:
        return (self.start - self.net) // self.bsize

    @property
    def last_block(self) -> int:
        return (self.end - self.net) // self.bsize

    @property
    def nblocks(self) -> int:
        return self.last_block - self.first_block + 1

    def block_base(self, i: int) -> int:
        return self.net + i * self.bsize

    def block_of(self, ip: int) -> int:
        return (ip - self.net) // self.bsize

    def block_hex(self, i: int) -> str:
        return ip_hex(self.family, self.block_base(i))

    def block_from_hex(self, h: str) -> int:
        return self.block_of(int(h, 16))

    def contains(self, ip: int) -> bool:
        return self.start <= ip <= self.end

    def usable(self, i: int) -> list[int]:
        """The ordinals of block i that may be handed out (in range, not excluded, not the gateway,
        not the IPv4 network/broadcast address)."""
        base = self.block_base(i)
        lo = max(self.start, base)
        hi = min(self.end, base + self.bsize - 1)
        bad = set()
        if self.gateway is not None:
            bad.add(self.gateway)
        if self.family == 4 and self.plen < 31:
            bad.add(self.net)
            bad.add(self.net | ((1 << (32 - self.plen)) - 1))
        out = []
        for ip in range(lo, hi + 1):
            if ip in bad:
                continue
            if any(a <= ip <= b for a, b in self.excludes):
                continue
            out.append(ip - base)
        return out


def ip_hex(family: int, ip: int) -> str:
    """Fixed width so that key order is address order."""
    return f"{ip:08x}" if family == 4 else f"{ip:032x}"


def choose_ordinal(usable: list[int], taken: Iterable[int]) -> int | None:
    """A free usable ordinal: the first one after the highest in use, else the lowest free one
    (round-robin-ish without state, and no instant reuse of an address just released above)."""
    used = set(taken)
    free = [o for o in usable if o not in used]
    if not free:
        return None
    top = max(used) if used else -1
    for o in free:
        if o > top:
            return o
    return free[0]


def free_in_run(p: int, run: list[int], limit: int, last: int) -> int | None:
    """Given the claimed block indices at or after p (sorted, at most `limit` of them, as a keys-only
    range read from p returns them), the first unclaimed index >= p, or None if this read cannot tell."""
    expect = p
    for idx in run:
        if idx > expect:
            return expect
        if idx == expect:
            expect += 1
    if expect > last:
        return None
    if len(run) < limit:  # the read reached the end of the range: expect is free
        return expect
    return None


def probes(seed: str, first: int, n: int, k: int) -> list[int]:
    """k pseudo-random block indices in [first, first+n), fixed per seed (the node and pool), so
    nodes claiming at the same time start from different places (Calico seeds by host name)."""
    out = []
    for j in range(k):
        h = 0
        for part in range(4):  # 128 bits: enough for the block count of any IPv6 range
            h = (h << 32) | binascii.crc32(f"{seed}#{j}#{part}".encode())
        out.append(first + h % n)
    return out


def endpoint_start(node: str, n: int) -> int:
    """Where a node starts in the endpoint list: spreads nodes over members, sticky per node."""
    return binascii.crc32(node.encode()) % n if n else 0
