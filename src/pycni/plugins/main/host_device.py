"""`host-device`: move an existing host interface into the container, and back on DEL (upstream HEAD).

Recipe: load config (one selector of `device`, `hwaddr`, `kernelpath`, `pciBusID`, or runtimeConfig.deviceID naming
a PCI or auxiliary device; a PCI device bound to a userspace driver means DPDK mode: nothing is moved) -> find the
host link -> move it through a throwaway netns: rename to CNI_IFNAME, set its alias to the host name, move into the
container, set up (each step undone on failure) -> IPAM ADD + configure_iface when `ipam` is given.
DEL: IPAM DEL, then through a throwaway netns: rename back to the alias, clear the alias, move to the host netns
(left down). DEL succeeds when the netns or the device is already gone. GC is forwarded to IPAM.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SYS_BUS_PCI = "/sys/bus/pci/devices"
SYS_BUS_AUXILIARY = "/sys/bus/auxiliary/devices"
USERSPACE_DRIVERS = ("vfio-pci", "uio_pci_generic", "igb_uio")
_RUNTIME = 'struct { DeviceID string "json:\\"deviceID,omitempty\\"" }'


class LinkGone(Exception):
    """moveLinkOut found no CNI_IFNAME in the container (already moved back or destroyed)."""


def _fields() -> list[tuple[str, Any]]:
    from pycni.spec.godecode import BOOL, STRING, Struct

    return [("device", STRING), ("hwaddr", STRING), ("DPDKMode", BOOL), ("kernelpath", STRING),
            ("pciBusID", STRING), ("runtimeConfig", ("struct", Struct("", [("deviceID", STRING)], _RUNTIME))),
            ("dad", STRING)]


def decode(args: CmdArgs, prefix: str = "failed to load netconf") -> dict[str, Any]:
    from pycni.plugins.common import decode_conf

    return decode_conf(args.conf, _fields(), prefix)


def _handle_device_id(conf: dict[str, Any]) -> None:
    import os

    dev = (conf.get("runtimeConfig") or {}).get("deviceID", "")
    if not dev:
        return
    if os.path.exists(os.path.join(SYS_BUS_PCI, dev)):
        conf["pciBusID"] = dev
        return
    if os.path.exists(os.path.join(SYS_BUS_AUXILIARY, dev)):
        conf["pciBusID"] = ""
        conf["auxDevice"] = dev
        return
    raise ValueError(f"runtime config DeviceID {dev} not found or unsupported")


def has_dpdk_driver(pciaddr: str) -> bool:
    """The PCI device's driver (its `driver` symlink) is a userspace one; OSError text as Go's."""
    import os

    link = os.path.join(SYS_BUS_PCI, pciaddr, "driver")
    target = os.path.realpath(link, strict=True)
    os.stat(target)
    return os.path.basename(target) in USERSPACE_DRIVERS


def load_conf(args: CmdArgs) -> dict[str, Any]:
    conf = decode(args)
    _handle_device_id(conf)
    if not any(conf.get(k) for k in ("device", "hwaddr", "kernelpath", "pciBusID", "auxDevice")):
        raise ValueError('specify either "device", "hwaddr", "kernelpath" or "pciBusID"')
    if conf.get("pciBusID"):
        try:
            conf["DPDKMode"] = has_dpdk_driver(conf["pciBusID"])
        except OSError as exc:
            raise ValueError(f"error with host device: {_path_error(exc)}") from None
    return conf


def _path_error(exc: OSError) -> str:
    from pycni.gofmt import errno_text as strerror

    return f"lstat {exc.filename}: {strerror(exc.errno or 0)}" if exc.filename else strerror(exc.errno or 0)


def _link_from_path(path: str) -> Any:
    import os

    from pycni.linux.link import link_by_name
    from pycni.gofmt import errno_text as strerror

    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        err = f"open {path}: {strerror(exc.errno or 0)}"
        raise ValueError(f'failed to read directory {path}: "{err}"') from None
    if not entries:
        raise ValueError(f"failed to find network device in path {path}")
    return link_by_name(entries[0])


def get_link(conf: dict[str, Any]) -> Any:
    """The host link selected by the config (the reference's getLink; first selector that is set wins)."""
    import glob
    import os

    from pycni.linux.link import link_by_name, link_list
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError
    from pycni.gofmt import q as go_quote

    if conf.get("device"):
        return link_by_name(conf["device"])
    if conf.get("hwaddr"):
        try:
            want = c.mac_str(c.parse_mac(conf["hwaddr"]))
        except c.CodecError as exc:
            raise ValueError(f"failed to parse MAC address {go_quote(conf['hwaddr'])}: {exc}") from None
        try:
            links = link_list()
        except NetlinkError as exc:
            raise ValueError(f"failed to list node links: {exc}") from None
        for lk in links:
            if (lk.address or "") == want:
                return lk
    elif conf.get("kernelpath"):
        kp = conf["kernelpath"]
        if not os.path.isabs(kp) or not kp.startswith("/sys/devices/"):
            raise ValueError(f"kernel device path {go_quote(kp)} must be absolute and begin with /sys/devices/")
        return _link_from_path(os.path.normpath(os.path.join(kp, "net")))
    elif conf.get("pciBusID"):
        pci = conf["pciBusID"]
        net_dir = os.path.normpath(os.path.join(SYS_BUS_PCI, pci, "net"))
        if not os.path.lexists(net_dir):
            matches = sorted(glob.glob(os.path.join(SYS_BUS_PCI, pci, "virtio*", "net")))
            if not matches:
                raise ValueError(f"no net directory under pci device {pci}")
            net_dir = matches[0]
        return _link_from_path(net_dir)
    elif conf.get("auxDevice"):
        return _link_from_path(os.path.normpath(os.path.join(SYS_BUS_AUXILIARY, conf["auxDevice"], "net")))
    raise ValueError("failed to find physical interface")


def _this_ns_fd() -> int:
    from pycni.linux.linkinfo import current_ns_fd

    return current_ns_fd()


def _temp_ns() -> int:
    from pycni.linux.linkinfo import temp_netns

    try:
        return temp_netns()
    except OSError as exc:
        from pycni.gofmt import errno_text as strerror

        raise ValueError(f"failed to create tempNS: {strerror(exc.errno or 0)}") from None


def move_link_in(host_dev: Any, cont_path: str, ifname: str) -> Any:
    """moveLinkIn: host -> temp netns (rename, alias) -> container (up). Returns the container-side link.
    On failure the steps taken are undone and the device is back here, up again if it was."""
    import os

    from pycni.linux import link, linkinfo
    from pycni.netlink import codec as c
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError
    from pycni.netlink.socket import wrap

    name = host_dev.name
    temp_fd = _temp_ns()
    host_fd = _this_ns_fd()
    cont_fd = linkinfo.open_ns_fd(cont_path)
    temp_path = linkinfo.fd_path(temp_fd)
    stage = 0  # 1: in temp netns, 2: renamed, 3: alias set, 4: in the container
    try:
        with wrap("failed to move %q to tempNS", name):
            link.link_set_netns_fd(host_dev, temp_fd)
        stage = 1
        with netns(temp_path):
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
        with netns(cont_path):
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
    from pycni.linux import link, linkinfo
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError

    try:
        if stage >= 4:
            with netns(cont_path):
                link.link_set_netns_fd(link.link_by_name(ifname), temp_fd)
        if stage >= 1:
            with netns(temp_path):
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
    import os

    from pycni.linux import link, linkinfo
    from pycni.netlink import codec as c
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import LinkNotFoundError, NetlinkError
    from pycni.gofmt import q as go_quote

    q_if = go_quote(ifname)
    temp_fd = _temp_ns()
    host_fd = _this_ns_fd()
    cont_fd = linkinfo.open_ns_fd(cont_path)
    temp_path = linkinfo.fd_path(temp_fd)
    was_up = False
    host_name = ""
    stage = 0  # 1: in temp netns, 2: renamed, 3: alias cleared
    try:
        with netns(cont_path):
            try:
                dev = link.link_by_name(ifname)
            except LinkNotFoundError:
                raise LinkGone() from None
            except NetlinkError as exc:
                raise ValueError(f"failed to find {q_if} in containerNS: {exc}") from None
            was_up = bool(dev.flags & c.IFF_UP)
            if not dev.alias:
                raise ValueError(f"failed to find original ifname for {q_if} (alias is not set)")
            try:
                link.link_set_netns_fd(dev, temp_fd)
            except NetlinkError as exc:
                raise ValueError(f"failed to move {q_if} to tempNS: {exc}") from None
            stage = 1
        with netns(temp_path):
            try:
                dev = link.link_by_name(ifname)
            except NetlinkError as exc:
                raise ValueError(f"failed to find {q_if} in tempNS: {exc}") from None
            host_name = dev.alias or ""
            q_host = go_quote(host_name)
            try:
                link.link_set_name(dev, host_name)
            except NetlinkError as exc:
                raise ValueError(f"failed to rename device {q_if} to {q_host}: {exc}") from None
            stage = 2
            try:
                linkinfo.link_set_alias(dev.index, "")
            except NetlinkError as exc:
                raise ValueError(f"failed to unset alias of {q_host}: {exc}") from None
            stage = 3
            try:
                link.link_set_netns_fd(dev, host_fd)
            except NetlinkError as exc:
                raise ValueError(f"failed to move {q_host} to hostNS: {exc}") from None
    except ValueError:
        _undo_out(stage, host_name, ifname, temp_path, cont_fd)
        if was_up:
            try:
                with netns(cont_path):
                    link.link_set_up(link.link_by_name(ifname))
            except Exception:
                pass
        raise
    finally:
        for fd in (cont_fd, host_fd, temp_fd):
            os.close(fd)


def _undo_out(stage: int, host_name: str, ifname: str, temp_path: str, cont_fd: int) -> None:
    """Best-effort rollback of move_link_out from `stage` back into the container netns."""
    from pycni.linux import link, linkinfo
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError

    if stage < 1:
        return
    try:
        with netns(temp_path):
            dev = link.link_by_name(host_name if stage >= 2 else ifname)
            if stage >= 3:
                linkinfo.link_set_alias(dev.index, host_name)
            if stage >= 2:
                link.link_set_name(dev, ifname)
            link.link_set_netns_fd(dev, cont_fd)
    except NetlinkError:
        pass


def _move_out_quietly(args: CmdArgs) -> None:
    """Rollback of a failed ADD: the device back to the host netns, errors ignored."""
    try:
        move_link_out(args.netns, args.ifname)
    except Exception:
        pass


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import configure_iface, dad_mode
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError
    from pycni.plugins import common
    from pycni.spec.result import dns_from_config

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = common.ipam_type(conf)
    common.check_netns(args.netns)
    iface: dict[str, Any] = {"name": args.ifname, "sandbox": args.netns}
    dpdk = bool(conf.get("DPDKMode"))
    if not dpdk:
        try:
            host_dev = get_link(conf)
        except (NetlinkError, ValueError) as exc:
            raise ValueError(f"failed to find host device: {exc}") from None
        try:
            cont = move_link_in(host_dev, args.netns, args.ifname)
        except ValueError as exc:
            raise ValueError(f"failed to move link {exc}") from None
        iface = {"name": cont.name, "mac": cont.address or "", "sandbox": args.netns}
    if not ipam:
        return {"cniVersion": "1.1.0", "interfaces": [iface]}
    undo = (lambda: None) if dpdk else (lambda: _move_out_quietly(args))  # DPDK: nothing was moved
    with common.AddRollback(args, ipam, undo=undo) as rb:
        result = rb.ipam_add()
        result["interfaces"] = [iface]
        if not dpdk:
            with netns(args.netns):
                configure_iface(args.ifname, result, dad=dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni.plugins import common

    conf = load_conf(args)
    common.forward("DEL", common.ipam_type(conf), args)
    if not common.netns_present(args.netns, wrap=True):
        return  # the namespace is gone: a physical device went back to the initial netns, a virtual one died
    if conf.get("DPDKMode"):
        return
    try:
        move_link_out(args.netns, args.ifname)
    except LinkGone:
        pass


def cmd_check(args: CmdArgs) -> None:
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = load_conf(args)
    common.check_netns(args.netns)
    common.forward("CHECK", common.ipam_type(conf), args)
    result = common.required_prev_result(conf, "Required prevResult missing")
    if conf.get("DPDKMode"):
        return
    cont = common.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns(args.netns):
        d = common.container_link(cont)
        common.check_container_mac(cont, d.link)
        common.check_ips_routes(args.ifname, result)


def cmd_status(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("STATUS", ipam_type(decode(args)), args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("GC", ipam_type(decode(args)), args)


PLUGIN = Plugin("host-device", impl=__name__)  # transitional: moves into a package

