"""`host-device`'s moves through a throwaway netns: host -> container (rename to CNI_IFNAME, alias = host name,
up) and back (rename to the alias, alias cleared, left down), each step undone when a later one fails.

Never leaves this thread in another netns; the undo is best effort, the first error is what the caller sees.
"""

from __future__ import annotations

import os

from pycni.gofmt import errno_text, q
from pycni.linux import link, linkinfo
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, wrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.netlink.codec import Link


class LinkGone(Exception):
    """moveLinkOut found no CNI_IFNAME in the container (already moved back or destroyed)."""


def _temp_ns() -> int:
    try:
        return linkinfo.temp_netns()
    except OSError as exc:
        raise ValueError(f"failed to create tempNS: {errno_text(exc.errno or 0)}") from None


def move_link_in(host_dev: Link, cont_path: str, ifname: str) -> Link:
    """moveLinkIn: host -> temp netns (rename, alias) -> container (up). Returns the container-side link.
    On failure the steps taken are undone and the device is back here, up again if it was."""
    name = host_dev.name or ""  # a link read from the kernel always has a name
    temp_fd = _temp_ns()
    host_fd = linkinfo.current_ns_fd()
    cont_fd = linkinfo.open_ns_fd(cont_path)
    temp_path = linkinfo.fd_path(temp_fd)
    stage = 0  # 1: in temp netns, 2: renamed, 3: alias set, 4: in the container
    try:
        with wrap("failed to move %q to tempNS", name):
            link.link_set_netns_fd(host_dev, temp_fd)
        stage = 1
        with netns.netns(temp_path):
            with wrap("failed to find %q in tempNS", name):
                dev = link.link_by_name(name)
            with wrap("failed to rename host device %q to %q", name, ifname):
                link.link_set_name(dev, ifname)
            stage = 2
            with wrap("failed to set alias to %q", name):
                linkinfo.link_set_alias(dev.index, name)
            stage = 3
            with wrap("failed to move %q (host: %q) to container NS", ifname, name):
                link.link_set_netns_fd(dev, cont_fd)
            stage = 4
        with netns.netns(cont_path):
            with wrap("failed to find %q in container NS", ifname):
                cont = link.link_by_name(ifname)
            with wrap("failed to set %q up", ifname):
                link.link_set_up(cont)
        return cont
    except BaseException:
        _undo_in(stage, name, ifname, cont_path, temp_path, temp_fd, host_fd)
        if host_dev.flags & c.IFF_UP:
            try:
                link.link_set_up(link.link_by_name(name))
            except NetlinkError:
                pass
        raise
    finally:
        for fd in (cont_fd, host_fd, temp_fd):
            os.close(fd)


def _undo_in(stage: int, name: str, ifname: str, cont_path: str, temp_path: str, temp_fd: int,
             host_fd: int) -> None:
    """Best-effort rollback of move_link_in from `stage` back to the host netns."""
    try:
        if stage >= 4:
            with netns.netns(cont_path):
                link.link_set_netns_fd(link.link_by_name(ifname), temp_fd)
        if stage >= 1:
            with netns.netns(temp_path):
                dev = link.link_by_name(ifname if stage >= 2 else name)
                if stage >= 3:
                    linkinfo.link_set_alias(dev.index, "")
                if stage >= 2:
                    link.link_set_name(dev, name)
                link.link_set_netns_fd(dev, host_fd)
    except NetlinkError:
        pass


def move_link_out(cont_path: str, ifname: str) -> None:
    """moveLinkOut: container -> temp netns (rename to alias, clear alias) -> this netns, left down.
    LinkGone when the container has no ifname; on other failures the device is returned to the container."""
    temp_fd = _temp_ns()
    host_fd = linkinfo.current_ns_fd()
    cont_fd = linkinfo.open_ns_fd(cont_path)
    temp_path = linkinfo.fd_path(temp_fd)
    was_up = False
    host_name = ""
    stage = 0  # 1: in temp netns, 2: renamed, 3: alias cleared
    try:
        with netns.netns(cont_path):
            try:
                dev = link.link_by_name(ifname)
            except LinkNotFoundError:
                raise LinkGone() from None
            except NetlinkError as exc:
                raise ValueError(f"failed to find {q(ifname)} in containerNS: {exc}") from None
            was_up = bool(dev.flags & c.IFF_UP)
            if not dev.alias:
                raise ValueError(f"failed to find original ifname for {q(ifname)} (alias is not set)")
            with wrap("failed to move %q to tempNS", ifname):
                link.link_set_netns_fd(dev, temp_fd)
            stage = 1
        with netns.netns(temp_path):
            with wrap("failed to find %q in tempNS", ifname):
                dev = link.link_by_name(ifname)
            host_name = dev.alias or ""
            with wrap("failed to rename device %q to %q", ifname, host_name):
                link.link_set_name(dev, host_name)
            stage = 2
            with wrap("failed to unset alias of %q", host_name):
                linkinfo.link_set_alias(dev.index, "")
            stage = 3
            with wrap("failed to move %q to hostNS", host_name):
                link.link_set_netns_fd(dev, host_fd)
    except ValueError:
        _undo_out(stage, host_name, ifname, temp_path, cont_fd)
        if was_up:
            try:
                with netns.netns(cont_path):
                    link.link_set_up(link.link_by_name(ifname))
            except Exception:  # noqa: BLE001, S110 - best effort: the move's own error is reported
                pass
        raise
    finally:
        for fd in (cont_fd, host_fd, temp_fd):
            os.close(fd)


def _undo_out(stage: int, host_name: str, ifname: str, temp_path: str, cont_fd: int) -> None:
    """Best-effort rollback of move_link_out from `stage` back into the container netns."""
    if stage < 1:
        return
    try:
        with netns.netns(temp_path):
            dev = link.link_by_name(host_name if stage >= 2 else ifname)
            if stage >= 3:
                linkinfo.link_set_alias(dev.index, host_name)
            if stage >= 2:
                link.link_set_name(dev, ifname)
            link.link_set_netns_fd(dev, cont_fd)
    except NetlinkError:
        pass
