"""DEL of a link plugin's interface (macvlan, ipvlan, vlan, tap, dummy): IPAM DEL and the link, tolerant of
both being gone already.

Never creates anything; a namespace or link that is already gone is success, as upstream.
"""

from __future__ import annotations

from pycni.linux.linkinfo import del_link_in_netns

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
