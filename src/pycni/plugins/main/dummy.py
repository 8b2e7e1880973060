"""`dummy`: a dummy interface named CNI_IFNAME inside the container, addressed by IPAM (upstream HEAD).

Recipe: IPAM is mandatory -> create the dummy link inside the container netns -> IPAM ADD -> configure_iface.
Failures after creation delete the link and release the IP. The result's DNS is the IPAM plugin's.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC is forwarded to IPAM.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NEEDS_IPAM = "dummy interface requires an IPAM configuration"


def decode(args: CmdArgs, prefix: str = "failed to parse network config") -> dict[str, Any]:
    from pycni.plugins.main.macvlan import decode_conf
    from pycni.spec.godecode import STRING

    return decode_conf(args.conf, [("dad", STRING)], prefix)


def _create(args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import link, linkinfo
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError
    from pycni.plugins.main.macvlan import go_quote

    with netns(args.netns):
        try:
            linkinfo.add_link(linkinfo.dummy_payload(args.ifname))
        except NetlinkError as exc:
            raise ValueError(f"failed to create dummy: {exc}") from None
        try:
            lk = link.link_by_name(args.ifname)
        except NetlinkError as exc:
            raise ValueError(f"failed to fetch dummy{go_quote(args.ifname)}: {exc}") from None
    return {"name": args.ifname, "mac": lk.address or "", "sandbox": args.netns}


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    from pycni import invoke
    from pycni.ipam.configure import configure_iface
    from pycni.netlink.netns import netns
    from pycni.plugins.main import macvlan as m
    from pycni.plugins.main.ptp import dad_mode

    conf = decode(args)
    ipam = m.ipam_type(conf)
    if ipam == "":
        raise ValueError(NEEDS_IPAM)
    dad = dad_mode(conf, args.conf)
    m.check_netns(args.netns)
    iface = _create(args)
    ipam_done = False
    try:
        result = invoke.ipam_add(ipam, args)
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
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.main.macvlan import delete_attachment, ipam_type

    conf = decode(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)
    delete_attachment(args, "")


def cmd_check(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.netlink.netns import netns
    from pycni.plugins.main import macvlan as m

    conf = decode(args)
    ipam = m.ipam_type(conf)
    if ipam == "":
        raise ValueError(NEEDS_IPAM)
    m.check_netns(args.netns)
    invoke.ipam_call(ipam, "CHECK", args)
    result = m.prev_result(conf, "dummy: Required prevResult missing")
    cont = m.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns(args.netns):
        _validate_container_interface(cont)
        m.check_ips_routes(args.ifname, result, routes=False)


def _validate_container_interface(intf: dict[str, Any]) -> None:
    from pycni.linux import linkinfo
    from pycni.netlink.socket import NetlinkError

    name = intf.get("name", "")
    if name == "":
        raise ValueError(f"Container interface name missing in prevResult: {name}")
    try:
        d = linkinfo.link_detail(name)
    except NetlinkError:
        raise ValueError(f"Container Interface name in prevResult: {name} not found") from None
    if not intf.get("sandbox"):
        raise ValueError(f"Error: Container interface {d.link.name} should not be in host namespace")
    if d.kind != "dummy":
        raise ValueError(f"Error: Container interface {d.link.name} not of type dummy")
    if intf.get("mac") and intf["mac"] != (d.link.address or ""):
        raise ValueError(f"Interface {name} Mac {intf['mac']} doesn't match container Mac: {d.link.address or ''}")
    if not d.link.is_up:
        raise ValueError(f"Interface {name} is down")


def cmd_status(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.main.macvlan import ipam_type

    invoke.ipam_call(ipam_type(decode(args, "failed to load netconf")), "STATUS", args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.main.macvlan import forward, ipam_type

    forward("GC", ipam_type(decode(args, "failed to load netconf")), args)


PLUGIN = Plugin("dummy", add=cmd_add, delete=cmd_del, check=cmd_check, gc=cmd_gc, status=cmd_status)


def main() -> None:
    from pycni.skel import main as skel_main

    skel_main(PLUGIN)


if __name__ == "__main__":
    main()
