"""`macvlan`, the implementation: a macvlan child of a host (or, with linkInContainer, container) interface
(upstream HEAD).

Recipe: load config (master defaults to the first default route's device; MTU checked against the master's; MAC
from CNI_ARGS `MAC`, then runtimeConfig.mac) -> create the macvlan under a temporary `veth…` name straight into
the container netns -> rename it to CNI_IFNAME -> L3: IPAM ADD, arp_notify/ndisc_notify=1, configure_iface;
L2 (no ipam): set it up. Any failure after creation deletes the link and releases the IP. DEL releases the IP,
then deletes the link, succeeding when the netns or the link is already gone. GC and STATUS: the skel default
(forward to IPAM when there is one).
"""

from __future__ import annotations

from pycni.ipam.configure import dad_mode
from pycni.linux import linkinfo
from pycni.netlink import netns
from pycni.plugins.shared.attach import attach_l3_or_l2, create_in_netns
from pycni.plugins.shared.check import check_container_mac, check_ips_routes, container_link
from pycni.plugins.shared.conf import ipam_type
from pycni.plugins.shared.forward import forward
from pycni.plugins.shared.mac import apply_mac_overrides, check_mac_arg
from pycni.plugins.shared.master import check_master_mtu, default_master, find_master
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import container_iface, required_prev_result
from pycni.plugins.shared.teardown import delete_attachment
from pycni.spec.result import dns_from_config

from .config import MODE_NAMES, decode, mode_from_string

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

load_conf = decode  # what the skel default decodes for GC and STATUS: the plain NetConf, as upstream


def load_netconf(args: CmdArgs) -> dict[str, Any]:
    """loadConf: decode, default master, master MTU bound, MAC overrides (in the reference's order)."""
    conf = decode(args)
    if not conf.get("master"):
        conf["master"] = default_master(args.netns, bool(conf.get("linkInContainer")))
    check_master_mtu(conf, args.netns)
    apply_mac_overrides(conf, args.args)
    return conf


def _create(conf: dict[str, Any], args: CmdArgs) -> Interface:
    mode = mode_from_string(conf.get("mode", ""))
    master = find_master(conf, args.netns)
    mac = conf.get("mac") or None
    check_mac_arg(mac)

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.macvlan_payload(tmp, master.index, mode, mtu=conf.get("mtu", 0), mac=mac, ns_fd=fd,
                                        bcqueuelen=conf.get("bcqueuelen", 0))

    return create_in_netns("macvlan", args, payload, bool(conf.get("linkInContainer")))


def cmd_add(args: CmdArgs) -> Result:
    conf = load_netconf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    iface = _create(conf, args)
    result = attach_l3_or_l2(args, ipam, iface, dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = decode(args, "failed to load netConf")
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    conf = load_netconf(args)
    check_netns(args.netns)
    forward("CHECK", ipam_type(conf), args)
    result = required_prev_result(conf, "required prevResult missing")
    cont = container_iface(result, args, "sandbox in prevResult %s doesn't match configured netns: %s")
    find_master(conf, args.netns)
    with netns.netns(args.netns):
        _validate_container_interface(cont, conf.get("mode", ""))
        check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: Interface, mode_expected: str) -> None:
    d = container_link(intf, "macvlan", lower=True)
    want = mode_from_string(mode_expected)
    have = linkinfo.u32(d.data, linkinfo.IFLA_MACVLAN_MODE) or 0
    if have != want:
        if have not in MODE_NAMES:
            raise ValueError(f"unknown macvlan mode: {have}")
        raise ValueError(f"container macvlan mode {MODE_NAMES[have]} does not match expected value: "
                         f"{MODE_NAMES[want]}")
    check_container_mac(intf, d.link, lower=True)
