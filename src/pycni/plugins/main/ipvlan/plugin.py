"""`ipvlan`: an ipvlan child (l2, l3, l3s) of a host or container interface (upstream HEAD).

Recipe: load config (master defaults to the single named interface of prevResult when chained, else to the first
default route's device) -> create under a temporary `veth…` name straight into the container netns -> rename to
CNI_IFNAME -> addresses from prevResult (chained, no ipam) or from IPAM (then mandatory) -> arp_notify and
ndisc_notify = 1 -> configure_iface. Failures after creation delete the link and release the IP.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC is forwarded to IPAM.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MODES = {"": 0, "l2": 0, "l3": 1, "l3s": 2}  # linux/if_link.h IPVLAN_MODE_*
_MODE_NAMES = {0: "l2", 1: "l3", 2: "l3s"}


def _fields() -> list[tuple[str, Any]]:
    from pycni.spec.godecode import BOOL, INT, STRING

    return [("master", STRING), ("mode", STRING), ("mtu", INT), ("linkInContainer", BOOL), ("dad", STRING)]


def decode(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.common import decode_conf

    return decode_conf(args.conf, _fields(), "failed to load netconf")


def load_conf(args: CmdArgs, resolve_master: bool = True) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """loadConf: decode, prevResult, and (ADD) the master's default."""
    from pycni.plugins.common import default_master, load_prev_result

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


def mode_from_string(s: str) -> int:
    from pycni.gofmt import q as go_quote

    if s not in MODES:
        raise ValueError(f"unknown ipvlan mode: {go_quote(s)}")
    return MODES[s]


def _create(conf: dict[str, Any], args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import linkinfo
    from pycni.plugins.common import create_in_netns, find_master

    mode = mode_from_string(conf.get("mode", ""))
    master = find_master(conf, args.netns)

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.ipvlan_payload(tmp, master.index, mode, mtu=conf.get("mtu", 0), ns_fd=fd)

    return create_in_netns("ipvlan", args, payload, bool(conf.get("linkInContainer")))


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import configure_iface, dad_mode
    from pycni.netlink.netns import netns
    from pycni.plugins import common
    from pycni.spec.result import dns_from_config

    conf, prev = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = common.ipam_type(conf)
    common.check_netns(args.netns)
    iface = _create(conf, args)
    with common.AddRollback(args, ipam) as rb:
        if ipam == "" and prev is not None and prev.get("ips"):
            result = prev  # chained: configure the addresses an earlier plugin allocated
        else:
            result = rb.ipam_add()
        for ipc in result["ips"]:
            ipc["interface"] = 0
        result["interfaces"] = [iface]
        with netns(args.netns):
            common.set_notify_sysctls(args.ifname)
            configure_iface(args.ifname, result, dad=dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni.plugins.common import delete_attachment, ipam_type

    conf, _ = load_conf(args, resolve_master=False)
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = decode(args)
    common.check_netns(args.netns)
    common.forward("CHECK", common.ipam_type(conf), args)
    result = common.required_prev_result(conf, "Required prevResult missing")
    cont = common.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    if conf.get("master"):
        common.find_master(conf, args.netns)
    with netns(args.netns):
        _validate_container_interface(cont, conf.get("mode", ""))
        common.check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: dict[str, Any], mode_expected: str) -> None:
    from pycni.linux import linkinfo
    from pycni.plugins.common import check_container_mac, container_link

    d = container_link(intf, "ipvlan")
    want = mode_from_string(mode_expected)
    have = linkinfo.u16(d.data, linkinfo.IFLA_IPVLAN_MODE) or 0
    if have != want:
        if have not in _MODE_NAMES:
            raise ValueError(f"unknown ipvlan mode: {have}")
        raise ValueError(f"Container IPVlan mode {_MODE_NAMES[have]} does not match expected value: "
                         f"{_MODE_NAMES[want]}")
    check_container_mac(intf, d.link)


def cmd_status(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("STATUS", ipam_type(decode(args)), args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("GC", ipam_type(decode(args)), args)


PLUGIN = Plugin("ipvlan", impl=__name__)  # transitional: moves into a package

