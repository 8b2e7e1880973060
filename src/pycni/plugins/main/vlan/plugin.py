"""`vlan`, the implementation: an 802.1Q sub-interface of `master` in the container (upstream HEAD).

Recipe: load config (`master` required, vlanId 0-4094, MTU bounded by the master's) -> create the vlan link under a
temporary `veth…` name straight into the container netns (or inside it, linkInContainer) -> rename to CNI_IFNAME ->
IPAM ADD (mandatory) -> configure_iface. Failures after creation delete the link and release the IP.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC: the skel default.
"""

from __future__ import annotations

from pycni import invoke
from pycni.ipam.configure import configure_iface, dad_mode
from pycni.linux import linkinfo
from pycni.netlink import netns
from pycni.plugins.shared.attach import AddRollback, create_in_netns
from pycni.plugins.shared.check import check_container_mac, check_ips_routes, container_link
from pycni.plugins.shared.conf import ipam_type
from pycni.plugins.shared.master import check_master_mtu, find_master
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import container_iface, required_prev_result
from pycni.plugins.shared.teardown import delete_attachment
from pycni.spec.result import dns_from_config

from .config import decode, validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

load_conf = decode  # what the skel default decodes for GC: the plain NetConf, as upstream


def load_netconf(args: CmdArgs) -> dict[str, Any]:
    """loadConf: decode, validate, then the MTU bound by the master's."""
    conf = decode(args)
    validate(conf)
    check_master_mtu(conf, args.netns)
    return conf


def _create(conf: dict[str, Any], args: CmdArgs) -> Interface:
    master = find_master(conf, args.netns)

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.vlan_payload(tmp, master.index, conf.get("vlanId", 0), mtu=conf.get("mtu", 0), ns_fd=fd)

    return create_in_netns("vlan", args, payload, bool(conf.get("linkInContainer")))


def cmd_add(args: CmdArgs) -> Result:
    conf = load_netconf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    iface = _create(conf, args)
    with AddRollback(args, ipam) as rb:
        result = rb.ipam_add(wrap="failed to execute IPAM delegate")
        result["interfaces"] = [iface]
        with netns.netns(args.netns):
            configure_iface(args.ifname, result, dad=dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = decode(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)  # ipam is mandatory for vlan: DEL always delegates
    delete_attachment(args, "")


def cmd_check(args: CmdArgs) -> None:
    conf = decode(args)
    check_netns(args.netns)
    invoke.ipam_call(ipam_type(conf), "CHECK", args)
    result = required_prev_result(conf, "vlan: Required prevResult missing")
    cont = container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    find_master(conf, args.netns)
    with netns.netns(args.netns):
        _validate_container_interface(cont, conf.get("vlanId", 0), conf.get("mtu", 0))
        check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: Interface, vlan_id: int, mtu: int) -> None:
    d = container_link(intf, "vlan", tag="vlan: ")
    check_container_mac(intf, d.link, tag="vlan: ")
    name = intf["name"]
    have = linkinfo.u16(d.data, linkinfo.IFLA_VLAN_ID) or 0
    if have != vlan_id:
        raise ValueError(f"Error: container vlan {name} has VLAN ID {have}, expected {vlan_id}")
    if mtu and mtu != d.link.mtu:
        raise ValueError(f"Error: Tuning configured MTU of {name} is {mtu}, current value is {d.link.mtu}")


def cmd_status(args: CmdArgs) -> None:
    # Not the skel default: upstream vlan.go calls ipam.ExecStatus even without an IPAM type (macvlan.go skips it).
    invoke.ipam_call(ipam_type(decode(args)), "STATUS", args)
