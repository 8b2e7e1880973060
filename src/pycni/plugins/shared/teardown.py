"""DEL of a link plugin's interface: IPAM DEL and the link, tolerant of both being gone already.

Never creates anything; a namespace or link that is already gone is success, as upstream.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.linux import addr, link
from pycni.linux.linkinfo import del_link_in_netns
from pycni.netlink.codec import RT_SCOPE_UNIVERSE
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, wrap

from .forward import forward
from .netns import netns_present

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.skel import CmdArgs


def delete_attachment(args: CmdArgs, ipam: str) -> None:
    """The DEL recipe of macvlan/ipvlan/vlan/tap/dummy: IPAM DEL (if any), then the link, tolerant of both gone."""
    forward("DEL", ipam, args)
    if netns_present(args.netns):
        del_link_in_netns(args.netns, args.ifname)


def del_link_with_addrs(ifname: str) -> list[str]:
    """ip.DelLinkByNameAddr (ptp, bridge), in the current netns: delete ifname, returning its global unicast
    addresses (for the masquerade teardown). LinkNotFoundError propagates as it is (the caller's "gone")."""
    try:
        lk = link.link_by_name(ifname)
    except LinkNotFoundError:
        raise
    except NetlinkError as e:
        raise ValueError(f"failed to lookup {q(ifname)}: {e}") from None
    with wrap("failed to get IP addresses for %q", ifname):
        addrs = addr.addr_list(lk.index)
    with wrap("failed to delete %q", ifname):
        link.link_del(lk)
    return [f"{a.ip}/{a.prefixlen}" for a in addrs if a.scope == RT_SCOPE_UNIVERSE]
