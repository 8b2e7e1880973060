"""`vlan`: an 802.1Q sub-interface of `master` in the container (upstream HEAD).

Recipe: load config (`master` required, vlanId 0-4094, MTU bounded by the master's) -> create the vlan link under a
temporary `veth…` name straight into the container netns (or inside it, linkInContainer) -> rename to CNI_IFNAME ->
IPAM ADD (mandatory) -> configure_iface. Failures after creation delete the link and release the IP.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC is forwarded to IPAM.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _fields() -> list[tuple[str, Any]]:
    from pycni.spec.godecode import BOOL, INT, STRING

    return [("master", STRING), ("vlanId", INT), ("mtu", INT), ("linkInContainer", BOOL), ("dad", STRING)]


def decode(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.common import decode_conf

    return decode_conf(args.conf, _fields(), "failed to load netconf")


def load_conf(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.common import check_master_mtu

    conf = decode(args)
    if not conf.get("master"):
        raise ValueError('"master" field is required. It specifies the host interface name to create the VLAN for')
    vid = conf.get("vlanId", 0)
    if vid < 0 or vid > 4094:
        raise ValueError(f"invalid VLAN ID {vid} (must be between 0 and 4095 inclusive)")
    check_master_mtu(conf, args.netns)
    return conf


def _create(conf: dict[str, Any], args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import linkinfo
    from pycni.plugins.common import create_in_netns, find_master

    master = find_master(conf, args.netns)

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.vlan_payload(tmp, master.index, conf.get("vlanId", 0), mtu=conf.get("mtu", 0), ns_fd=fd)

    return create_in_netns("vlan", args, payload, bool(conf.get("linkInContainer")))


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import configure_iface, dad_mode
    from pycni.netlink.netns import netns
    from pycni.plugins import common
    from pycni.spec.result import dns_from_config

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = common.ipam_type(conf)
    common.check_netns(args.netns)
    iface = _create(conf, args)
    with common.AddRollback(args, ipam) as rb:
        result = rb.ipam_add(wrap="failed to execute IPAM delegate")
        result["interfaces"] = [iface]
        with netns(args.netns):
            configure_iface(args.ifname, result, dad=dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.common import delete_attachment, ipam_type

    conf = decode(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)  # ipam is mandatory for vlan: DEL always delegates
    delete_attachment(args, "")


def cmd_check(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = decode(args)
    common.check_netns(args.netns)
    invoke.ipam_call(common.ipam_type(conf), "CHECK", args)
    result = common.required_prev_result(conf, "vlan: Required prevResult missing")
    cont = common.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    common.find_master(conf, args.netns)
    with netns(args.netns):
        _validate_container_interface(cont, conf.get("vlanId", 0), conf.get("mtu", 0))
        common.check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: dict[str, Any], vlan_id: int, mtu: int) -> None:
    from pycni.linux import linkinfo
    from pycni.plugins.common import check_container_mac, container_link

    d = container_link(intf, "vlan", tag="vlan: ")
    check_container_mac(intf, d.link, tag="vlan: ")
    name = intf["name"]
    have = linkinfo.u16(d.data, linkinfo.IFLA_VLAN_ID) or 0
    if have != vlan_id:
        raise ValueError(f"Error: container vlan {name} has VLAN ID {have}, expected {vlan_id}")
    if mtu and mtu != d.link.mtu:
        raise ValueError(f"Error: Tuning configured MTU of {name} is {mtu}, current value is {d.link.mtu}")


def cmd_status(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.common import ipam_type

    invoke.ipam_call(ipam_type(decode(args)), "STATUS", args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("GC", ipam_type(decode(args)), args)


PLUGIN = Plugin("vlan", impl=__name__)  # transitional: moves into a package

