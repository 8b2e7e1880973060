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
    from pycni.plugins.common import decode_conf
    from pycni.spec.godecode import STRING

    return decode_conf(args.conf, [("dad", STRING)], prefix)


def _create(args: CmdArgs) -> dict[str, Any]:
    from pycni.linux import link, linkinfo
    from pycni.netlink.netns import netns
    from pycni.netlink.socket import NetlinkError
    from pycni.gofmt import q as go_quote

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
    from pycni.ipam.configure import configure_iface, dad_mode
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = decode(args)
    ipam = common.ipam_type(conf)
    if ipam == "":
        raise ValueError(NEEDS_IPAM)
    dad = dad_mode(conf, args.conf)
    common.check_netns(args.netns)
    iface = _create(args)
    with common.AddRollback(args, ipam) as rb:
        result = rb.ipam_add()
        result["interfaces"] = [iface]
        with netns(args.netns):
            configure_iface(args.ifname, result, dad=dad)
    return result


def cmd_del(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.common import delete_attachment, ipam_type

    conf = decode(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)
    delete_attachment(args, "")


def cmd_check(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = decode(args)
    ipam = common.ipam_type(conf)
    if ipam == "":
        raise ValueError(NEEDS_IPAM)
    common.check_netns(args.netns)
    invoke.ipam_call(ipam, "CHECK", args)
    result = common.required_prev_result(conf, "dummy: Required prevResult missing")
    cont = common.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns(args.netns):
        _validate_container_interface(cont)
        common.check_ips_routes(args.ifname, result, routes=False)


def _validate_container_interface(intf: dict[str, Any]) -> None:
    from pycni.plugins.common import check_container_mac, container_link

    d = container_link(intf, "dummy")
    check_container_mac(intf, d.link)
    if not d.link.is_up:
        raise ValueError(f"Interface {intf['name']} is down")


def cmd_status(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.common import ipam_type

    invoke.ipam_call(ipam_type(decode(args, "failed to load netconf")), "STATUS", args)


def cmd_gc(args: CmdArgs) -> None:
    from pycni.plugins.common import forward, ipam_type

    forward("GC", ipam_type(decode(args, "failed to load netconf")), args)


PLUGIN = Plugin("dummy", impl=__name__)  # transitional: moves into a package

