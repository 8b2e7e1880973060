"""The veth plugins' (ptp, bridge) DEL step: upstream's ip.DelLinkByNameAddr, with its error texts, and
the container-side wrapper both DELs use (a gone netns or link is no error).
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.linux import addr, link
from pycni.netlink import netns
from pycni.netlink.codec import RT_SCOPE_UNIVERSE
from pycni.netlink.netns import NSPathNotExistError
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, wrap


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


def delete_container_veth(netns_path: str, ifname: str) -> list[str]:
    """DEL's veth step: in the container netns, delete ifname and return its global addresses. [] when the
    netns (empty CNI_NETNS, or a path that is gone) or the link is already gone; other netns errors raise."""
    if netns_path == "":
        return []
    try:
        with netns.netns(netns_path):
            try:
                return del_link_with_addrs(ifname)
            except LinkNotFoundError:
                return []
    except NSPathNotExistError:
        return []
