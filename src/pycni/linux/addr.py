"""Address verbs over rtnetlink: list, add (exclusive, IPv4 broadcast computed), delete.

Acts on the namespace of the calling thread (or of `nl`) and never switches namespaces. No retries and no DAD
waiting here (see ipam.configure).
"""

from __future__ import annotations

from _socket import AF_INET

from pycni.netlink import codec as c
from pycni.netlink.socket import scoped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.netlink.socket import NetlinkSocket

Addr = c.Addr


def addr_list(index: int = 0, family: int = 0, nl: NetlinkSocket | None = None) -> list[Addr]:
    """Addresses of link `index` (0 = every link) and `family` (0 = both)."""
    with scoped(nl) as s:
        msgs = s.dump(c.RTM_GETADDR, c.pack_ifaddrmsg(family=family))
    # a generator, so each message is unpacked and filtered in turn (as link_list, route_list)
    addrs = (c.unpack_addr(m.payload) for m in msgs if m.type == c.RTM_NEWADDR)
    return [a for a in addrs if (not index or a.index == index) and (not family or a.family == family)]


def make_addr(index: int, cidr: str, flags: int = 0) -> Addr:
    """The Addr the reference's AddrAdd would send for cidr: local = address = ip, and for IPv4 prefixes
    shorter than /31 the broadcast address of the subnet."""
    ip, plen = c.split_cidr(cidr)
    fam = c.ip_family(ip)
    a = Addr(family=fam, prefixlen=plen, flags=flags, index=index, local=ip, address=ip)
    if fam == AF_INET and plen < 31:
        a.broadcast = c.ipv4_broadcast(ip, plen)
    return a


def addr_add(index: int, cidr: str, *, flags: int = 0, nl: NetlinkSocket | None = None) -> None:
    """Add cidr (host bits kept) with CREATE|EXCL: an existing identical address is ExistsError."""
    with scoped(nl) as s:
        s.request(c.RTM_NEWADDR, c.pack_addr(make_addr(index, cidr, flags)), c.NLM_F_CREATE | c.NLM_F_EXCL)


def addr_del(index: int, cidr: str, nl: NetlinkSocket | None = None) -> None:
    ip, plen = c.split_cidr(cidr)
    fam = c.ip_family(ip)
    with scoped(nl) as s:
        s.request(c.RTM_DELADDR, c.pack_addr(Addr(family=fam, prefixlen=plen, index=index, local=ip, address=ip)))
