"""The host interface a macvlan/ipvlan/vlan hangs off (`master`): lookup, default, MTU bound.

Looks links up (here or, with linkInContainer, inside the container netns); changes nothing.
"""

from __future__ import annotations

from pycni.linux.link import link_by_name
from pycni.linux.linkinfo import default_route_ifname
from pycni.netlink import netns
from pycni.netlink.socket import wrap

from .netns import check_netns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.netlink.codec import Link


def lookup_master(name: str, netns_path: str, in_container: bool) -> Link:
    """The master link, looked up here or (linkInContainer) inside netns_path; errors raw ("Link not found")."""
    if not in_container:
        return link_by_name(name)
    check_netns(netns_path)
    with netns.netns(netns_path):
        return link_by_name(name)


def find_master(conf: dict[str, Any], netns_path: str) -> Link:
    """lookup_master for conf["master"] (linkInContainer honoured), netlink errors as
    ValueError('failed to lookup master "<m>": <err>')."""
    name = conf.get("master", "")
    with wrap("failed to lookup master %q", name):
        return lookup_master(name, netns_path, bool(conf.get("linkInContainer")))


def check_master_mtu(conf: dict[str, Any], netns_path: str) -> None:
    """conf["mtu"] must lie in [0, the master's MTU] (the master looked up raw)."""
    master_mtu = lookup_master(conf["master"], netns_path, bool(conf.get("linkInContainer"))).mtu or 0
    mtu = conf.get("mtu", 0)
    if mtu < 0 or mtu > master_mtu:
        raise ValueError(f"invalid MTU {mtu}, must be [0, master MTU({master_mtu})]")


def default_master(netns_path: str, in_container: bool) -> str:
    """The device of the first default route, here or (linkInContainer) in the container."""
    if not in_container:
        return default_route_ifname()
    check_netns(netns_path)
    with netns.netns(netns_path):
        return default_route_ifname()
