"""Attaching a link plugin's interface in the container: create under a temporary name and rename, IPAM ADD,
L3 (addresses, routes) or L2 (just up), and the rollback of all that when a later step fails.

The ADD side only; DEL is in `teardown.py`, the master link in `master.py`.
"""

from __future__ import annotations

import os

from pycni.gofmt import q
from pycni.ipam.configure import configure_iface
from pycni.linux import link, linkinfo, sysctl
from pycni.netlink import netns
from pycni.netlink.socket import NetlinkError, wrap

from .lease import ipam_ips, release_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Self

    from pycni.netlink.codec import Link
    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result


def drop_link(name: str) -> None:
    """Delete link `name` of the current netns if it can; netlink errors ignored."""
    try:
        link.link_del(link.link_by_name(name))
    except NetlinkError:
        pass


def rename_temp_link(kind: str, tmp: str, ifname: str) -> Link:
    """In the current netns: rename the freshly made `tmp` to CNI_IFNAME (deleting it when that fails) and
    read it back."""
    try:
        linkinfo.rename_link(tmp, ifname)
    except NetlinkError as exc:
        drop_link(tmp)
        raise ValueError(f"failed to rename {kind} to {q(ifname)}: {exc}") from None
    with wrap("failed to refetch %s %q", kind, ifname):
        return link.link_by_name(ifname)


def create_in_netns(kind: str, args: CmdArgs, payload_for: Callable[[str, int], bytes],
                    in_container: bool) -> Interface:
    """Create a link under a random temporary name in the container netns (from here with IFLA_NET_NS_FD, or
    from inside it), rename it to CNI_IFNAME, and return its result interface {name, mac, sandbox}.
    payload_for(tmp_name, ns_fd) builds the RTM_NEWLINK payload. Errors carry the reference's texts."""
    tmp = link.random_veth_name()
    fd = linkinfo.open_ns_fd(args.netns)
    try:
        payload = payload_for(tmp, fd)
        with wrap("failed to create %s", kind):
            if in_container:
                with netns.netns(args.netns):
                    linkinfo.add_link(payload)
            else:
                linkinfo.add_link(payload)
    finally:
        os.close(fd)
    with netns.netns(args.netns):
        lk = rename_temp_link(kind, tmp, args.ifname)
    return {"name": args.ifname, "mac": lk.address or "", "sandbox": args.netns}


def delete_link_quietly(netns_path: str, ifname: str) -> None:
    """Rollback after a failed ADD: remove ifname from the container netns, ignoring every error."""
    try:
        with netns.netns(netns_path):
            link.del_link_by_name(ifname)
    except Exception:  # noqa: BLE001, S110 - a rollback must not hide the failure that caused it
        pass


class AddRollback:
    """`with AddRollback(args, ipam) as rb:` around the steps of an ADD after the link exists: when one fails, the
    IPAM lease taken through rb.ipam_add() is released and the link undone (by default CNI_IFNAME is deleted
    from the container netns), all errors of the undo ignored; the failure itself propagates."""

    __slots__ = ("args", "ipam", "ipam_done", "undo")

    def __init__(self, args: CmdArgs, ipam: str, undo: Callable[[], None] | None = None) -> None:
        self.args = args
        self.ipam = ipam
        self.ipam_done = False
        self.undo = undo

    def ipam_add(self, wrap: str | None = None) -> Result:
        result = ipam_ips(self.ipam, self.args, wrap)
        self.ipam_done = True
        return result

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            return
        if self.ipam_done:
            release_quietly(self.ipam, self.args)
        if self.undo is None:
            delete_link_quietly(self.args.netns, self.args.ifname)
        else:
            self.undo()


def attach_l3_or_l2(args: CmdArgs, ipam: str, iface: Interface, dad: str, ndisc: bool = True) -> Result:
    """The rest of a macvlan/tap ADD once the link is CNI_IFNAME in the container: with IPAM (L3), IPAM ADD, the
    notify sysctls (arp, and with `ndisc` ndisc) and configure_iface; without (L2), the link set up. Rolled back
    on failure (AddRollback). Returns the result (cniVersion, interfaces, ips, routes)."""
    result: Result = {"cniVersion": "1.1.0", "interfaces": [iface]}
    with AddRollback(args, ipam) as rb:
        if ipam:
            ipam_result = rb.ipam_add()
            result["ips"] = ipam_result["ips"]
            if ipam_result.get("routes"):
                result["routes"] = ipam_result["routes"]
            with netns.netns(args.netns):
                set_notify_sysctls(args.ifname, ndisc=ndisc)
                configure_iface(args.ifname, result, dad=dad)
        else:
            with netns.netns(args.netns):
                set_up_l2(args.ifname, iface["name"])
    return result


def set_notify_sysctls(ifname: str, ndisc: bool = True) -> None:
    """arp_notify (and ndisc_notify) = 1 on ifname in the current netns; errors ignored, as upstream."""
    names = [f"net/ipv4/conf/{ifname}/arp_notify"]
    if ndisc:
        names.append(f"net/ipv6/conf/{ifname}/ndisc_notify")
    for name in names:
        try:
            sysctl.set(name, "1")
        except OSError:
            pass


def set_up_l2(ifname: str, shown: str) -> None:
    """L2 attachment: just bring the link up (in the current netns)."""
    with wrap("failed to find interface name %q", shown):
        lk = link.link_by_name(ifname)
    with wrap("failed to set %q UP", ifname):
        link.link_set_up(lk)
