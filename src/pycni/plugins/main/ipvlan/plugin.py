"""`ipvlan`, the implementation: an ipvlan child (l2, l3, l3s) of a host or container interface (upstream HEAD).

Recipe: load config (master defaults to the single named interface of prevResult when chained, else to the first
default route's device) -> create under a temporary `veth…` name straight into the container netns -> rename to
CNI_IFNAME -> addresses from prevResult (chained, no ipam) or from IPAM (then mandatory) -> arp_notify and
ndisc_notify = 1 -> configure_iface. Failures after creation delete the link and release the IP.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC and STATUS: the skel
default (forward to IPAM when there is one).
"""

from __future__ import annotations

from pycni.ipam.configure import configure_iface, dad_mode
from pycni.linux import linkinfo
from pycni.netlink import netns
from pycni.plugins.shared.attach import AddRollback, create_in_netns, set_notify_sysctls
from pycni.plugins.shared.check import check_container_mac, check_ips_routes, container_link
from pycni.plugins.shared.conf import ipam_type
from pycni.plugins.shared.forward import forward
from pycni.plugins.shared.master import default_master, find_master
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import container_iface, load_prev_result, required_prev_result
from pycni.plugins.shared.teardown import delete_attachment
from pycni.spec.result import dns_from_config

from .config import MODE_NAMES, decode, mode_from_string

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

load_conf = decode  # what the skel default decodes for GC and STATUS: the plain NetConf, as upstream


def load_netconf(args: CmdArgs, resolve_master: bool = True) -> tuple[dict[str, Any], Result | None]:
    """loadConf: decode, prevResult, and (ADD) the master's default."""
    conf = decode(args)
    _, prev = load_prev_result(conf)
    if resolve_master and not conf.get("master"):
        if prev is None:
            conf["master"] = default_master(args.netns, bool(conf.get("linkInContainer")))
        else:
            ifaces = prev.get("interfaces") or []
            if len(ifaces) == 1 and ifaces[0].get("name"):
                conf["master"] = ifaces[0]["name"]
            else:
                raise ValueError("chained master failure. PrevResult lacks a single named interface")
    return conf, prev


def _create(conf: dict[str, Any], args: CmdArgs) -> Interface:
    mode = mode_from_string(conf.get("mode", ""))
    master = find_master(conf, args.netns)

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.ipvlan_payload(tmp, master.index, mode, mtu=conf.get("mtu", 0), ns_fd=fd)

    return create_in_netns("ipvlan", args, payload, bool(conf.get("linkInContainer")))


def cmd_add(args: CmdArgs) -> Result:
    conf, prev = load_netconf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    check_netns(args.netns)
    iface = _create(conf, args)
    with AddRollback(args, ipam) as rb:
        if ipam == "" and prev is not None and prev.get("ips"):
            result = prev  # chained: configure the addresses an earlier plugin allocated
        else:
            result = rb.ipam_add()
        for ipc in result["ips"]:
            ipc["interface"] = 0
        result["interfaces"] = [iface]
        with netns.netns(args.netns):
            set_notify_sysctls(args.ifname)
            configure_iface(args.ifname, result, dad=dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    conf, _ = load_netconf(args, resolve_master=False)
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    conf = decode(args)
    check_netns(args.netns)
    forward("CHECK", ipam_type(conf), args)
    result = required_prev_result(conf, "Required prevResult missing")
    cont = container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    if conf.get("master"):
        find_master(conf, args.netns)
    with netns.netns(args.netns):
        _validate_container_interface(cont, conf.get("mode", ""))
        check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: Interface, mode_expected: str) -> None:
    d = container_link(intf, "ipvlan")
    want = mode_from_string(mode_expected)
    have = linkinfo.u16(d.data, linkinfo.IFLA_IPVLAN_MODE) or 0
    if have != want:
        if have not in MODE_NAMES:
            raise ValueError(f"unknown ipvlan mode: {have}")
        raise ValueError(f"Container IPVlan mode {MODE_NAMES[have]} does not match expected value: "
                         f"{MODE_NAMES[want]}")
    check_container_mac(intf, d.link)
