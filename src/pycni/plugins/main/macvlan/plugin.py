"""`macvlan`: a macvlan child of a host (or, with linkInContainer, container) interface (upstream HEAD).

Recipe: load config (master defaults to the first default route's device; MTU checked against the master's; MAC
from CNI_ARGS `MAC`, then runtimeConfig.mac) -> create the macvlan under a temporary `veth…` name straight into
the container netns -> rename it to CNI_IFNAME -> L3: IPAM ADD, arp_notify/ndisc_notify=1, configure_iface;
L2 (no ipam): set it up. Any failure after creation deletes the link and releases the IP. DEL releases the IP,
then deletes the link, succeeding when the netns or the link is already gone. GC is forwarded to IPAM.
The steps shared with the other link plugins live in pycni.plugins.common.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MODES = {"": 4, "bridge": 4, "private": 1, "vepa": 2, "passthru": 8}  # linux/if_link.h MACVLAN_MODE_*
_MODE_NAMES = {4: "bridge", 1: "private", 2: "vepa", 8: "passthru"}


def _fields() -> list[tuple[str, Any]]:
    from pycni.plugins.common import runtime_mac_field
    from pycni.spec.godecode import BOOL, INT, RAW, STRING

    return [("master", STRING), ("mode", STRING), ("mtu", INT), ("mac", STRING), ("linkInContainer", BOOL),
            ("bcqueuelen", RAW), runtime_mac_field(), ("dad", STRING)]


def decode(args: CmdArgs, prefix: str = "failed to load netconf") -> dict[str, Any]:
    from pycni.plugins.common import decode_conf, uint32_field

    conf = decode_conf(args.conf, _fields(), prefix)
    uint32_field(conf, "bcqueuelen", prefix)
    return conf


def load_conf(args: CmdArgs) -> dict[str, Any]:
    """loadConf: decode, default master, master MTU bound, MAC overrides (in the reference's order)."""
    from pycni.plugins.common import apply_mac_overrides, check_master_mtu, default_master

    conf = decode(args)
    if not conf.get("master"):
        conf["master"] = default_master(args.netns, bool(conf.get("linkInContainer")))
    check_master_mtu(conf, args.netns)
    apply_mac_overrides(conf, args.args)
    return conf


def mode_from_string(s: str) -> int:
    from pycni.gofmt import q as go_quote

    if s not in MODES:
        raise ValueError(f"unknown macvlan mode: {go_quote(s)}")
    return MODES[s]


def _create(conf: dict[str, Any], args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import linkinfo
    from pycni.plugins.common import check_mac_arg, create_in_netns, find_master

    mode = mode_from_string(conf.get("mode", ""))
    master = find_master(conf, args.netns)
    mac = conf.get("mac") or None
    check_mac_arg(mac)

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.macvlan_payload(tmp, master.index, mode, mtu=conf.get("mtu", 0), mac=mac, ns_fd=fd,
                                        bcqueuelen=conf.get("bcqueuelen", 0))

    return create_in_netns("macvlan", args, payload, bool(conf.get("linkInContainer")))


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni.ipam.configure import dad_mode
    from pycni.plugins import common
    from pycni.spec.result import dns_from_config

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = common.ipam_type(conf)
    common.check_netns(args.netns)
    iface = _create(conf, args)
    result = common.attach_l3_or_l2(args, ipam, iface, dad)
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni.plugins.common import delete_attachment, ipam_type

    conf = decode(args, "failed to load netConf")
    delete_attachment(args, ipam_type(conf))


def cmd_check(args: CmdArgs) -> None:
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = load_conf(args)
    common.check_netns(args.netns)
    common.forward("CHECK", common.ipam_type(conf), args)
    result = common.required_prev_result(conf, "required prevResult missing")
    cont = common.container_iface(result, args, "sandbox in prevResult %s doesn't match configured netns: %s")
    common.find_master(conf, args.netns)
    with netns(args.netns):
        _validate_container_interface(cont, conf.get("mode", ""))
        common.check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: dict[str, Any], mode_expected: str) -> None:
    from pycni.linux import linkinfo
    from pycni.plugins.common import check_container_mac, container_link

    d = container_link(intf, "macvlan", lower=True)
    want = mode_from_string(mode_expected)
    have = linkinfo.u32(d.data, linkinfo.IFLA_MACVLAN_MODE) or 0
    if have != want:
        if have not in _MODE_NAMES:
            raise ValueError(f"unknown macvlan mode: {have}")
        raise ValueError(f"container macvlan mode {_MODE_NAMES[have]} does not match expected value: "
                         f"{_MODE_NAMES[want]}")
    check_container_mac(intf, d.link, lower=True)


def cmd_status(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("STATUS", ipam_type(decode(args)), args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("GC", ipam_type(decode(args)), args)


PLUGIN = Plugin("macvlan", impl=__name__)  # transitional: moves into a package

