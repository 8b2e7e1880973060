"""`dummy`, the implementation: a dummy interface named CNI_IFNAME inside the container, addressed by IPAM
(upstream HEAD).

Recipe: IPAM is mandatory -> create the dummy link inside the container netns -> IPAM ADD -> configure_iface.
Failures after creation delete the link and release the IP. The result's DNS is the IPAM plugin's.
DEL releases the IP, deletes the link, and succeeds when the netns or link is gone. GC: the skel default.
The config is types.NetConf plus pycni's `dad`, so it has no config.py.
"""

from __future__ import annotations

from pycni import invoke
from pycni.ipam.configure import configure_iface, dad_mode
from pycni.linux import link, linkinfo
from pycni.netlink import netns
from pycni.netlink.socket import wrap
from pycni.plugins.shared.attach import AddRollback
from pycni.plugins.shared.check import check_container_mac, check_ips_routes, container_link
from pycni.plugins.shared.conf import decode_conf, ipam_type
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import container_iface, required_prev_result
from pycni.plugins.shared.teardown import delete_attachment
from pycni.spec.godecode import STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

NEEDS_IPAM = "dummy interface requires an IPAM configuration"
_FIELDS: list[tuple[str, Any]] = [("dad", STRING)]


def decode(args: CmdArgs, prefix: str = "failed to parse network config") -> dict[str, Any]:
    return decode_conf(args.conf, _FIELDS, prefix)


def load_conf(args: CmdArgs) -> dict[str, Any]:
    """What GC and STATUS decode (upstream's text differs from ADD's there)."""
    return decode(args, "failed to load netconf")


def _create(args: CmdArgs) -> Interface:
    with netns.netns(args.netns):
        with wrap("failed to create dummy"):
            linkinfo.add_link(linkinfo.dummy_payload(args.ifname))
        with wrap("failed to fetch dummy%q", args.ifname):  # sic: upstream has no space before the name
            lk = link.link_by_name(args.ifname)
    return {"name": args.ifname, "mac": lk.address or "", "sandbox": args.netns}


def cmd_add(args: CmdArgs) -> Result:
    conf = decode(args)
    ipam = ipam_type(conf)
    if ipam == "":
        raise ValueError(NEEDS_IPAM)
    dad = dad_mode(conf, args.conf)
    check_netns(args.netns)
    iface = _create(args)
    with AddRollback(args, ipam) as rb:
        result = rb.ipam_add()
        result["interfaces"] = [iface]
        with netns.netns(args.netns):
            configure_iface(args.ifname, result, dad=dad)
    return result


def cmd_del(args: CmdArgs) -> None:
    conf = decode(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)  # upstream dummy.go delegates even without an IPAM type
    delete_attachment(args, "")


def cmd_check(args: CmdArgs) -> None:
    conf = decode(args)
    ipam = ipam_type(conf)
    if ipam == "":
        raise ValueError(NEEDS_IPAM)
    check_netns(args.netns)
    invoke.ipam_call(ipam, "CHECK", args)
    result = required_prev_result(conf, "dummy: Required prevResult missing")
    cont = container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns.netns(args.netns):
        _validate_container_interface(cont)
        check_ips_routes(args.ifname, result, routes=False)


def _validate_container_interface(intf: Interface) -> None:
    d = container_link(intf, "dummy")
    check_container_mac(intf, d.link)
    if not d.link.is_up:
        raise ValueError(f"Interface {intf['name']} is down")


def cmd_status(args: CmdArgs) -> None:
    # Not the skel default: upstream dummy.go calls ipam.ExecStatus even without an IPAM type.
    invoke.ipam_call(ipam_type(load_conf(args)), "STATUS", args)
