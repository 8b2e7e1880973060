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
    from pycni.plugins.main.macvlan import decode_conf

    return decode_conf(args.conf, _fields(), "failed to load netconf")


def load_conf(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.main.macvlan import lookup_master

    conf = decode(args)
    if not conf.get("master"):
        raise ValueError('"master" field is required. It specifies the host interface name to create the VLAN for')
    vid = conf.get("vlanId", 0)
    if vid < 0 or vid > 4094:
        raise ValueError(f"invalid VLAN ID {vid} (must be between 0 and 4095 inclusive)")
    master_mtu = lookup_master(conf["master"], args.netns, bool(conf.get("linkInContainer"))).mtu or 0
    mtu = conf.get("mtu", 0)
    if mtu < 0 or mtu > master_mtu:
        raise ValueError(f"invalid MTU {mtu}, must be [0, master MTU({master_mtu})]")
    return conf


def _create(conf: dict[str, Any], args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import linkinfo
    from pycni.netlink.socket import NetlinkError
    from pycni.plugins.main.macvlan import create_in_netns, go_quote, lookup_master

    in_cont = bool(conf.get("linkInContainer"))
    try:
        master = lookup_master(conf["master"], args.netns, in_cont)
    except NetlinkError as exc:
        raise ValueError(f"failed to lookup master {go_quote(conf['master'])}: {exc}") from None

    def payload(tmp: str, fd: int) -> bytes:
        return linkinfo.vlan_payload(tmp, master.index, conf.get("vlanId", 0), mtu=conf.get("mtu", 0), ns_fd=fd)

    return create_in_netns("vlan", args, payload, in_cont)


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni import invoke
    from pycni.ipam.configure import configure_iface
    from pycni.netlink.netns import netns
    from pycni.plugins.main import macvlan as m
    from pycni.plugins.main.ptp import dad_mode
    from pycni.spec.errors import CNIError
    from pycni.spec.result import dns_from_config

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = m.ipam_type(conf)
    m.check_netns(args.netns)
    iface = _create(conf, args)
    ipam_done = False
    try:
        try:
            result = invoke.ipam_add(ipam, args)
        except CNIError as exc:
            raise ValueError(f"failed to execute IPAM delegate: {exc}") from None
        ipam_done = True
        if not result.get("ips"):
            raise ValueError("IPAM plugin returned missing IP config")
        for ipc in result["ips"]:
            ipc["interface"] = 0
        result["interfaces"] = [iface]
        with netns(args.netns):
            configure_iface(args.ifname, result, dad=dad)
    except BaseException:
        if ipam_done:
            m.release_quietly(ipam, args)
        m.delete_link_quietly(args.netns, args.ifname)
        raise
    result["dns"] = dns_from_config(conf.get("dns"))
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.main.macvlan import delete_attachment, ipam_type

    conf = decode(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)  # ipam is mandatory for vlan: DEL always delegates
    delete_attachment(args, "")


def cmd_check(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError
    from pycni.plugins.main import macvlan as m

    conf = decode(args)
    m.check_netns(args.netns)
    invoke.ipam_call(m.ipam_type(conf), "CHECK", args)
    result = m.prev_result(conf, "vlan: Required prevResult missing")
    cont = m.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    try:
        m.lookup_master(conf.get("master", ""), args.netns, bool(conf.get("linkInContainer")))
    except NetlinkError as exc:
        raise ValueError(f"failed to lookup master {m.go_quote(conf.get('master', ''))}: {exc}") from None
    with netns(args.netns):
        _validate_container_interface(cont, conf.get("vlanId", 0), conf.get("mtu", 0))
        m.check_ips_routes(args.ifname, result)


def _validate_container_interface(intf: dict[str, Any], vlan_id: int, mtu: int) -> None:
    from pycni.linux import linkinfo
    from pycni.netlink.socket import NetlinkError

    name = intf.get("name", "")
    if name == "":
        raise ValueError(f"Container interface name missing in prevResult: {name}")
    try:
        d = linkinfo.link_detail(name)
    except NetlinkError:
        raise ValueError(f"vlan: Container Interface name in prevResult: {name} not found") from None
    if not intf.get("sandbox"):
        raise ValueError(f"vlan: Error: Container interface {d.link.name} should not be in host namespace")
    if d.kind != "vlan":
        raise ValueError(f"Error: Container interface {d.link.name} not of type vlan")
    if intf.get("mac") and intf["mac"] != (d.link.address or ""):
        raise ValueError(f"vlan: Interface {name} Mac {intf['mac']} doesn't match container Mac: "
                         f"{d.link.address or ''}")
    have = linkinfo.u16(d.data, linkinfo.IFLA_VLAN_ID) or 0
    if have != vlan_id:
        raise ValueError(f"Error: container vlan {name} has VLAN ID {have}, expected {vlan_id}")
    if mtu and mtu != d.link.mtu:
        raise ValueError(f"Error: Tuning configured MTU of {name} is {mtu}, current value is {d.link.mtu}")


def cmd_status(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.main.macvlan import ipam_type

    invoke.ipam_call(ipam_type(decode(args)), "STATUS", args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.main.macvlan import forward, ipam_type

    forward("GC", ipam_type(decode(args)), args)


PLUGIN = Plugin("vlan", add=cmd_add, delete=cmd_del, check=cmd_check, gc=cmd_gc, status=cmd_status)


def main() -> None:
    from pycni.skel import main as skel_main

    skel_main(PLUGIN)


if __name__ == "__main__":
    main()
