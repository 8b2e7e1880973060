"""IP addresses and CIDRs with Go's `net` package semantics, as the reference plugins see them.

An IP is a pair (family, integer) with family 4 or 6; IPv4-mapped IPv6 input is IPv4, as in Go.
A CIDR keeps its host bits (types.IPNet does). Text forms match Go's String() methods.
Pure: no I/O. The text parsers are written out here, with Go's rules (no leading zeros in IPv4
octets, 1-4 hex digits per IPv6 group, one "::", an optional dotted tail): `ipaddress` costs ~5 ms
to import and even `_socket` costs a dlopen on every plugin exec.
"""

from __future__ import annotations

IP = tuple[int, int]  # (4 or 6, value)

_MAPPED = 0xFFFF << 32


def family_of(text: str) -> int:
    """4 or 6 for an address or CIDR in text form: the one family test (never `":" in ip` by hand)."""
    return 6 if ":" in text else 4


def host_cidr(ip: str) -> str:
    """The single-address prefix of an address in text form: `10.0.0.1/32`, `fd00::1/128`."""
    return f"{ip}/128" if family_of(ip) == 6 else f"{ip}/32"


def parse_ip(s: str) -> IP | None:
    """Go's net.ParseIP: dotted quad (no leading zeros) or IPv6 (no zone); else None."""
    for ch in s:
        if ch == ".":
            return _parse4(s)
        if ch == ":":
            return _parse6(s)
    return None


_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def _v4_value(s: str) -> int | None:
    """Dotted quad to an integer; None unless exactly 4 decimal octets <= 255 without leading zeros."""
    parts = s.split(".")
    if len(parts) != 4:
        return None
    v = 0
    for p in parts:
        if not p or len(p) > 3 or not _DEC.issuperset(p) or (len(p) > 1 and p[0] == "0"):
            return None
        n = int(p)
        if n > 255:
            return None
        v = v << 8 | n
    return v


def _v6_value(s: str) -> int | None:
    """IPv6 text (no zone) to an integer, or None."""
    head, sep, tail = s.partition("::")
    if sep and "::" in tail:
        return None
    groups: list[list[int]] = []
    sides = (head, tail) if sep else (head,)
    for n_side, side in enumerate(sides):
        side_groups: list[int] = []
        if side:
            parts = side.split(":")
            for i, p in enumerate(parts):
                # A dotted IPv4 tail may only end the address.
                if n_side == len(sides) - 1 and i == len(parts) - 1 and "." in p:
                    v4 = _v4_value(p)
                    if v4 is None:
                        return None
                    side_groups += [v4 >> 16, v4 & 0xFFFF]
                elif not p or len(p) > 4 or not _HEX.issuperset(p):
                    return None
                else:
                    side_groups.append(int(p, 16))
        groups.append(side_groups)
    if sep:
        left, right = groups
        missing = 8 - len(left) - len(right)
        if missing < 1:
            return None
        words = left + [0] * missing + right
    else:
        words = groups[0]
        if len(words) != 8:
            return None
    v = 0
    for w in words:
        v = v << 16 | w
    return v


def _parse4(s: str) -> IP | None:
    v = _v4_value(s)
    return None if v is None else (4, v)


def _parse6(s: str) -> IP | None:
    v = _v6_value(s)
    if v is None:
        return None
    if v >> 32 == 0xFFFF:
        return (4, v & 0xFFFFFFFF)
    return (6, v)


def ip_str(ip: IP) -> str:
    """Go's net.IP.String()."""
    fam, v = ip
    if fam == 4:
        return f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"
    groups = [(v >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    # The longest run (>= 2) of zero groups becomes "::"; the first one wins a tie.
    best_at, best_len, i = -1, 1, 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best_at, best_len = i, j - i
            i = j
        else:
            i += 1
    if best_at < 0:
        return ":".join(f"{g:x}" for g in groups)
    head = ":".join(f"{g:x}" for g in groups[:best_at])
    tail = ":".join(f"{g:x}" for g in groups[best_at + best_len :])
    return head + "::" + tail


class CIDRError(ValueError):
    pass


def parse_cidr(s: str) -> tuple[IP, int]:
    """Go's net.ParseCIDR, keeping the host bits: returns ((family, value), prefix length).

    IPv4-mapped IPv6 becomes IPv4 with the prefix counted over the last 32 bits, as Go prints it.
    Raises CIDRError("invalid CIDR address: <s>").
    """
    slash = s.find("/")
    if slash < 0:
        raise CIDRError(f"invalid CIDR address: {s}")
    addr, mask = s[:slash], s[slash + 1 :]
    # Go's dtoi: ASCII digits only, leading zeros allowed ("/024" is /24).
    if not mask or not mask.isascii() or not mask.isdigit() or len(mask.lstrip("0")) > 4:
        raise CIDRError(f"invalid CIDR address: {s}")
    plen = int(mask)
    if ":" in addr:
        if "%" in addr:
            raise CIDRError(f"invalid CIDR address: {s}")
        v = _v6_value(addr)
        if v is None:
            raise CIDRError(f"invalid CIDR address: {s}")
        if plen > 128:
            raise CIDRError(f"invalid CIDR address: {s}")
        if v >> 32 == 0xFFFF:
            return (4, v & 0xFFFFFFFF), max(0, plen - 96)
        return (6, v), plen
    ip = _parse4(addr)
    if ip is None or plen > 32:
        raise CIDRError(f"invalid CIDR address: {s}")
    return ip, plen


def cidr_str(ip: IP, plen: int) -> str:
    return f"{ip_str(ip)}/{plen}"


def bits(family: int) -> int:
    return 32 if family == 4 else 128


def network(ip: IP, plen: int) -> int:
    """The network number (host bits cleared) as an integer."""
    width = bits(ip[0])
    return ip[1] >> (width - plen) << (width - plen) if plen else 0


def contains(net_ip: IP, plen: int, ip: IP) -> bool:
    """Go's IPNet.Contains: same family and same bits under the mask."""
    if net_ip[0] != ip[0]:
        return False
    return network(net_ip, plen) == network(ip, plen)


def canonical_cidr(s: str) -> str:
    """Parse and re-print a CIDR the way Go's types.IPNet round-trips it."""
    ip, plen = parse_cidr(s)
    return cidr_str(ip, plen)


def canonical_ip(s: str) -> str:
    ip = parse_ip(s)
    if ip is None:
        raise ValueError(f"invalid IP address: {s}")
    return ip_str(ip)


def ipnet_str(ip: IP, mask: bytes | None) -> str:
    """Go's net.IPNet.String() for an IP and a raw mask: "<ip>/<len>", "<ip>/<hex mask>" when the
    mask is not a prefix, "<nil>" when the mask's length fits neither family."""
    m = mask or b""
    if len(m) == 16 and ip[0] == 4:
        m = m[12:]
    elif not ((len(m) == 4 and ip[0] == 4) or (len(m) == 16 and ip[0] == 6)):
        return "<nil>"
    v = int.from_bytes(m, "big")
    width = len(m) * 8
    ones = width - (~v & ((1 << width) - 1)).bit_length()
    if v != ((1 << width) - 1) ^ ((1 << (width - ones)) - 1):
        return f"{ip_str(ip)}/{m.hex()}"
    return f"{ip_str(ip)}/{ones}"
