"""`host-device`, the implementation: move an existing host interface into the container, and back on DEL
(upstream HEAD).

Recipe: load config (one selector of `device`, `hwaddr`, `kernelpath`, `pciBusID`, or runtimeConfig.deviceID naming
a PCI or auxiliary device; a PCI device bound to a userspace driver means DPDK mode: nothing is moved) -> find the
host link (devices.py) -> move it through a throwaway netns: rename to CNI_IFNAME, set its alias to the host name,
move into the container, set up (each step undone on failure; move.py) -> IPAM ADD + configure_iface when `ipam`
is given. DEL: IPAM DEL, then through a throwaway netns: rename back to the alias, clear the alias, move to the
host netns (left down). DEL succeeds when the netns or the device is already gone. GC and STATUS: the skel
default (forward to IPAM when there is one).
"""

from __future__ import annotations

from pycni.ipam.configure import configure_iface, dad_mode
from pycni.netlink import netns
from pycni.netlink.socket import NetlinkError
from pycni.plugins.shared.attach import AddRollback
from pycni.plugins.shared.check import check_container_mac, check_ips_routes, container_link
from pycni.plugins.shared.conf import ipam_type
from pycni.plugins.shared.forward import forward
from pycni.plugins.shared.netns import check_netns, netns_present
from pycni.plugins.shared.prev_result import container_iface, required_prev_result
from pycni.spec.result import dns_from_config

from .config import SELECTORS, decode
from .devices import get_link, handle_device_id, has_dpdk_driver, path_error
from .move import LinkGone, move_link_in, move_link_out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

load_conf = decode  # what the skel default decodes for GC and STATUS: the plain NetConf, as upstream


def load_netconf(args: CmdArgs) -> dict[str, Any]:
    """loadConf: decode, runtimeConfig.deviceID, one selector required, DPDK mode from the PCI driver."""
    conf = decode(args)
    handle_device_id(conf)
    if not any(conf.get(k) for k in SELECTORS):
        raise ValueError('specify either "device", "hwaddr", "kernelpath" or "pciBusID"')
    if conf.get("pciBusID"):
        try:
            conf["DPDKMode"] = has_dpdk_driver(conf["pciBusID"])
        except OSError as exc:
            raise ValueError(f"error with host device: {path_error(exc)}") from None
    return conf


def _move_out_quietly(args: CmdArgs) -> None:
    """Rollback of a failed ADD: the device back to the host netns, errors ignored."""
    try:
        move_link_out(args.netns, args.ifname)
    except Exception:  # noqa: BLE001, S110 - a rollback must not hide the failure that caused it
        pass


def cmd_add(args: CmdArgs) -> Result:
    conf = load_netconf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    iface: Interface = {"name": args.ifname, "sandbox": args.netns}
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
        iface = {"name": cont.name or "", "mac": cont.address or "", "sandbox": args.netns}
    if not ipam:
        return {"cniVersion": "1.1.0", "interfaces": [iface]}
    undo = (lambda: None) if dpdk else (lambda: _move_out_quietly(args))  # DPDK: nothing was moved
    with AddRollback(args, ipam, undo=undo) as rb:
        result = rb.ipam_add()
        result["interfaces"] = [iface]
        if not dpdk:
            with netns.netns(args.netns):
                configure_iface(args.ifname, result, dad=dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = load_netconf(args)
    forward("DEL", ipam_type(conf), args)
    if not netns_present(args.netns, wrap=True):
        return  # the namespace is gone: a physical device went back to the initial netns, a virtual one died
    if conf.get("DPDKMode"):
        return
    try:
        move_link_out(args.netns, args.ifname)
    except LinkGone:
        pass


def cmd_check(args: CmdArgs) -> None:
    conf = load_netconf(args)
    check_netns(args.netns)
    forward("CHECK", ipam_type(conf), args)
    result = required_prev_result(conf, "Required prevResult missing")
    if conf.get("DPDKMode"):
        return
    cont = container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns.netns(args.netns):
        d = container_link(cont)
        check_container_mac(cont, d.link)
        check_ips_routes(args.ifname, result)
