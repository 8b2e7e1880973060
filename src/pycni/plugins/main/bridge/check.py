"""`bridge`'s CHECK: the bridge, the container veth and its host peer against prevResult (upstream's texts).

Reads links only; the caller enters the container netns where needed.
"""

from __future__ import annotations

from pycni.gofmt import bool_text
from pycni.ipam.configure import check_iface
from pycni.linux import bridge as lb
from pycni.linux import link
from pycni.netlink import netns
from pycni.netlink.socket import NetlinkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.netlink.codec import Link
    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result


def _validate_interface(intf: Interface, expect_in_sandbox: bool) -> Link:
    name = intf.get("name", "")
    if name == "":
        raise ValueError("Interface name missing ")
    try:
        lk = link.link_by_name(name)
    except NetlinkError:
        raise ValueError(f"Interface name {name} not found") from None
    if expect_in_sandbox:
        if not intf.get("sandbox"):
            raise ValueError(f"Interface {name} is expected to be in a sandbox")
    elif intf.get("sandbox"):
        raise ValueError(f"Interface {name} should not be in sandbox")
    return lk


def _check_bridge(intf: Interface, promisc: bool) -> Link:
    lk = _validate_interface(intf, False)
    if lk.kind != "bridge":
        raise ValueError(f"Interface {intf['name']} does not have link type of bridge")
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(f"Bridge interface {intf['name']} Mac doesn't match: {intf['mac']}")
    have = bool(lk.flags & lb.IFF_PROMISC)
    if have != promisc:
        raise ValueError(f"Bridge interface {intf['name']} configured Promisc Mode {bool_text(promisc)} "
                         f"doesn't match current state: {bool_text(have)} ")
    return lk


def _check_container(intf: Interface) -> Link:
    lk = _validate_interface(intf, True)
    if lk.kind != "veth":
        raise ValueError(f"Error: Container interface {lk.name} not of type veth")
    if not lk.link:
        raise ValueError(f"Unable to obtain veth peer index for veth {lk.name}")
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(f"Interface {intf['name']} Mac {intf['mac']} doesn't match container Mac: {lk.address}")
    return lk


def _match_host_veth(intf: Interface, br: Link, cont: Link) -> bool:
    lk = _validate_interface(intf, False)
    if lk.kind != "veth":
        return False  # not something CNI created: skipped
    if not lk.link:
        raise ValueError(f"Unable to obtain veth peer index for veth {lk.name}")
    if lk.index != cont.link or cont.index != lk.link or lk.master != br.index:
        return False
    if intf.get("mac") and intf["mac"] != (lk.address or ""):
        raise ValueError(f"Interface {intf['name']} Mac doesn't match: {intf['mac']} not found")
    return True


def check_attachment(args: CmdArgs, conf: dict[str, Any], result: Result) -> None:
    """The bridge, the container veth, a host veth peer on the bridge, then the container's IPs and routes."""
    br_map: Interface = {}
    cont_map: Interface = {}
    ifaces = result.get("interfaces") or []
    for intf in ifaces:
        if intf.get("name") == conf["bridge"]:
            br_map = intf
        elif intf.get("name") == args.ifname and intf.get("sandbox", "") == args.netns:
            cont_map = intf

    br = _check_bridge(br_map, bool(conf.get("promiscMode")))
    if cont_map.get("sandbox", "") != args.netns:
        raise ValueError(f"Sandbox in prevResult {cont_map.get('sandbox', '')} doesn't match configured netns: "
                         f"{args.netns}")
    with netns.netns(args.netns):
        cont = _check_container(cont_map)
    veth_found = False
    for intf in ifaces:
        if intf.get("name") in (br_map.get("name"), cont_map.get("name")):
            continue
        if _match_host_veth(intf, br, cont):
            veth_found = True
            break
    if not veth_found:
        raise ValueError(f"CNI veth created for bridge {conf['bridge']} was not found")
    with netns.netns(args.netns):
        check_iface(args.ifname, result)
