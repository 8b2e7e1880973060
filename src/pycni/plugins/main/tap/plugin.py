"""`tap`, the implementation: a persistent tap device in the container, optionally a port of a bridge there
(upstream HEAD).

Recipe: load config (MAC from CNI_ARGS `MAC`, then runtimeConfig.mac) -> inside the container netns create a tap
under a temporary `veth…` name -> MTU/MAC -> rename to CNI_IFNAME -> enslave to `bridge` -> up -> L3: IPAM ADD,
arp_notify=1, configure_iface. Failures after creation delete the link and release the IP.
Creation follows upstream's two paths, natively (ioctls on /dev/net/tun) instead of through `ip tuntap`:
  * owner and group both given, no selinuxContext: IFF_TAP|IFF_VNET_HDR (+IFF_MULTI_QUEUE|IFF_NO_PI);
  * otherwise: IFF_TAP|IFF_NO_PI (+IFF_MULTI_QUEUE), owner/group as given (what `ip tuntap add` does).
With selinuxContext the label is set as the exec label of this thread and the device is made by `ip tuntap add`,
as upstream, so the kernel labels it from that context.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC and STATUS: the skel
default (forward to IPAM when there is one).
"""

from __future__ import annotations

import os

from pycni.gofmt import errno_text
from pycni.ipam.configure import dad_mode
from pycni.linux import link, linkinfo, spawn, tuntap
from pycni.netlink import netns
from pycni.netlink.socket import NetlinkError, wrap
from pycni.plugins.shared.attach import attach_l3_or_l2, drop_link, rename_temp_link
from pycni.plugins.shared.check import check_ips_routes
from pycni.plugins.shared.conf import ipam_type
from pycni.plugins.shared.forward import forward
from pycni.plugins.shared.mac import check_mac_arg
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import container_iface, required_prev_result
from pycni.plugins.shared.teardown import delete_attachment
from pycni.spec.result import dns_from_config

from .config import decode, load_netconf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

EXEC_ATTR = "/proc/thread-self/attr/exec"
IP_BINARY = "ip"

load_conf = decode  # what the skel default decodes for GC and STATUS: the plain NetConf, as upstream


def _set_exec_label(label: str) -> None:
    try:
        fd = os.open(EXEC_ATTR, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, label.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        op = "open" if exc.filename else "write"
        raise ValueError(f"failed set socket label: {op} {EXEC_ATTR}: {errno_text(exc.errno or 0)}") from None


def _run_ip(argv: list[str]) -> None:
    try:
        p = spawn.run([IP_BINARY, *argv])
    except OSError as exc:
        raise ValueError(f'failed to run command : exec: "{IP_BINARY}": {exc.strerror}') from None
    if p.status != 0:
        raise ValueError(f"failed to run command {p.stdout + p.stderr}: {p.status_text()}")


def _create_with_ip(tmp: str, conf: dict[str, Any]) -> None:
    """upstream's createTapWithIptool, used when a SELinux context must label the device."""
    argv = ["tuntap", "add", "mode", "tap", "name", tmp]
    if conf.get("multiQueue"):
        argv.append("multi_queue")
    if conf.get("owner") is not None:
        argv += ["user", str(conf["owner"])]
    if conf.get("group") is not None:
        argv += ["group", str(conf["group"])]
    _run_ip(argv)
    argv = ["link", "set", tmp]
    if conf.get("mtu", 0):
        argv += ["mtu", str(conf["mtu"])]
    if conf.get("mac"):
        argv += ["address", conf["mac"]]
    _run_ip(argv)


def create_flags(conf: dict[str, Any]) -> int:
    """The tun flags upstream ends up with on each of its creation paths."""
    mq = bool(conf.get("multiQueue"))
    if conf.get("owner") is not None and conf.get("group") is not None and not conf.get("selinuxContext"):
        return tuntap.tap_flags(vnet_hdr=True, no_pi=mq, multi_queue=mq)
    return tuntap.tap_flags(vnet_hdr=False, no_pi=True, multi_queue=mq)


def _create_native(tmp: str, conf: dict[str, Any]) -> None:
    try:
        tuntap.create(tmp, create_flags(conf), owner=conf.get("owner"), group=conf.get("group"))
    except (tuntap.TuntapError, ValueError) as exc:
        raise ValueError(f"failed to create tap: {exc}") from None
    try:
        lk = link.link_by_name(tmp)
        linkinfo.link_set_attrs(lk.index, mtu=conf.get("mtu", 0), mac=conf.get("mac") or None)
    except NetlinkError as exc:
        drop_link(tmp)
        raise ValueError(f"failed to create tap: {exc}") from None


def _create(conf: dict[str, Any], args: CmdArgs) -> Interface:
    """createTap: runs inside the container netns."""
    check_mac_arg(conf.get("mac"))
    mtu = conf.get("mtu", 0)
    if mtu < 0 or mtu > 0xFFFFFFFF:
        raise ValueError(f"invalid MTU {mtu}")
    tmp = link.random_veth_name()
    if conf.get("selinuxContext"):
        _set_exec_label(conf["selinuxContext"])
        try:
            _create_with_ip(tmp, conf)
        except BaseException:
            drop_link(tmp)
            raise
    else:
        _create_native(tmp, conf)
    lk = rename_temp_link("tap", tmp, args.ifname)
    try:
        if conf.get("bridge"):
            with wrap("failed to get bridge %s", conf["bridge"]):
                br = link.link_by_name(conf["bridge"])
            with wrap("failed to set tap %s as a port of bridge %s", args.ifname, conf["bridge"]):
                link.link_set_master(lk, br)
        with wrap("failed to set tap interface up"):
            link.link_set_up(lk)
    except BaseException:
        drop_link(args.ifname)
        raise
    return {"name": args.ifname, "mac": lk.address or "", "sandbox": args.netns}


def cmd_add(args: CmdArgs) -> Result:
    conf = load_netconf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    with netns.netns(args.netns):
        iface = _create(conf, args)
    result = attach_l3_or_l2(args, ipam, iface, dad, ndisc=False)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = load_netconf(args)
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    conf = load_netconf(args)
    check_netns(args.netns)
    forward("CHECK", ipam_type(conf), args)
    result = required_prev_result(conf, "Required prevResult missing")
    container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns.netns(args.netns):
        check_ips_routes(args.ifname, result)
