"""`ptp`, the implementation: a veth pair per container, routed point-to-point through the host (upstream HEAD).

Recipe: IPAM ADD -> forwarding on -> veth in the container netns -> configure_iface (where ECMP
routes become multipath routes) -> point-to-point routes via the gateway -> gateway addresses and
host routes on the host end -> optional masquerade. DEL releases the IP first and succeeds when
the namespace is already gone. Config: ipMasq, ipMasqBackend, mtu, ipam, dns, and pycni's `dad`.
"""

from __future__ import annotations

import os
from _socket import AF_INET, AF_INET6

from pycni import invoke
from pycni.ipam.configure import check_iface, configure_iface, dad_mode
from pycni.linux import addr, link, route, sysctl
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.socket import ExistsError, NetlinkError, wrap
from pycni.plugins.shared.check import container_link
from pycni.plugins.shared.conf import decode_conf, ipam_type
from pycni.plugins.shared.forward import forward
from pycni.plugins.shared.lease import release_quietly
from pycni.plugins.shared.netns import check_netns
from pycni.plugins.shared.prev_result import container_iface, required_prev_result
from pycni.spec.ipnet import family_of, host_cidr
from pycni.spec.netconf import valid_attachments
from pycni.spec.result import dns_from_config

from .delete import FIELDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, IPConfig, Result



def load_conf(args: CmdArgs) -> dict[str, Any]:
    return decode_conf(args.conf, FIELDS, "failed to load netconf")


def enable_forward(ips: list[IPConfig]) -> None:
    for fam in sorted({family_of(ipc["address"]) for ipc in ips}):
        name = "net/ipv4/ip_forward" if fam == 4 else "net/ipv6/conf/all/forwarding"
        try:
            if sysctl.get(name).strip() != "1":
                sysctl.set(name, "1")
        except OSError as exc:
            raise ValueError(f"Could not enable IP forwarding: {exc}") from None


def _setup_container(args: CmdArgs, host_fd: int, mtu: int, result: Result, dad: str) -> Interface:
    """Runs inside the container netns. Returns the host interface entry."""
    host, cont = link.setup_veth(args.ifname, "", mtu, "", f"/proc/self/fd/{host_fd}")
    host_if: Interface = {"name": host.name or "", "mac": host.address or ""}
    cont_if: Interface = {"name": cont.name or "", "mac": cont.address or "", "sandbox": args.netns}
    for ipc in result["ips"]:
        ipc["interface"] = 1
    result["interfaces"] = [host_if, cont_if]
    configure_iface(args.ifname, result, dad=dad)
    for ipc in result["ips"]:
        ip, plen = c.split_cidr(ipc["address"])
        fam = AF_INET6 if family_of(ip) == 6 else AF_INET
        net = c.mask_ip(ip, plen)
        gw = ipc.get("gateway")
        with wrap("failed to delete route %s/%d", net, plen):
            route.route_del(route.Route(family=fam, dst=net if plen else None, dst_len=plen, oif=cont.index))
        if gw is None:
            raise ValueError(f"ptp: IPAM returned no gateway for {ipc['address']}")
        gw_len = 128 if fam == AF_INET6 else 32
        for r in (
            route.Route(family=fam, dst=gw, dst_len=gw_len, oif=cont.index, scope=c.RT_SCOPE_LINK, prefsrc=ip),
            route.Route(family=fam, dst=net if plen else None, dst_len=plen, oif=cont.index, gateway=gw, prefsrc=ip),
        ):
            with wrap("failed to add route %s", r.dst_cidr):
                route.route_add(r)
    return host_if


def _setup_host(host_name: str, result: Result, dad: str) -> None:
    with wrap('failed to lookup "%s"', host_name):
        veth = link.link_by_name(host_name)
    for ipc in result["ips"]:
        gw = ipc["gateway"]
        # With "dad": "skip" the host end's IPv6 gateway address skips DAD too.
        flags = c.IFA_F_NODAD if dad == "skip" and family_of(gw) == 6 else 0
        try:
            addr.addr_add(veth.index, host_cidr(gw), flags=flags)
        except ExistsError:
            pass  # another IP of this container shares the gateway
        except NetlinkError as exc:
            raise ValueError(f"failed to add IP addr {ipc['gateway']} to veth: {exc}") from None
        ip = ipc["address"].split("/")[0]
        try:
            route.route_add(route.make_route(host_cidr(ip), oif=veth.index, scope=c.RT_SCOPE_HOST))
        except ExistsError:
            pass
        except NetlinkError as exc:
            raise ValueError(f"failed to add route on host: {exc}") from None


def cmd_add(args: CmdArgs) -> Result:
    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam = ipam_type(conf)
    result = invoke.ipam_add(ipam, args)
    try:
        if not result.get("ips"):
            raise ValueError("IPAM plugin returned missing IP config")
        enable_forward(result["ips"])
        check_netns(args.netns, verbatim=True)
        host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            with netns.netns(args.netns):
                host_if = _setup_container(args, host_fd, conf.get("mtu", 0), result, dad)
        finally:
            os.close(host_fd)
        _setup_host(host_if["name"], result, dad)
        if conf.get("ipMasq"):
            from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

            ipmasq.setup(conf.get("ipMasqBackend"), [i["address"] for i in result["ips"]],
                         conf.get("name", ""), args.ifname, args.container_id)
    except BaseException:
        release_quietly(ipam, args)
        raise
    if conf.get("dns"):
        result["dns"] = dns_from_config(conf["dns"])
    return result


def cmd_check(args: CmdArgs) -> None:
    conf = load_conf(args)
    check_netns(args.netns, verbatim=True)
    invoke.ipam_call(ipam_type(conf), "CHECK", args)
    result = required_prev_result(conf, "ptp: Required prevResult missing")
    cont = container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns.netns(args.netns):
        _validate_container_interface(cont)
        check_iface(args.ifname, result)


def _validate_container_interface(intf: Interface) -> None:
    lk = container_link(intf, "veth", tag="ptp: ", kind_text="veth/p2p").link
    if intf.get("mac") and intf["mac"].lower() != (lk.address or "").lower():
        raise ValueError(f"ptp: Interface {intf['name']} Mac {intf['mac']} doesn't match container Mac: {lk.address}")


# Not the skel default: upstream ptp.go calls ipam.ExecStatus even without an IPAM type (an error then).
def cmd_status(args: CmdArgs) -> None:
    invoke.ipam_call(ipam_type(load_conf(args)), "STATUS", args)


def cmd_gc(args: CmdArgs) -> None:
    """Forward GC to the IPAM plugin (spec MUST) and drop stale masquerade chains and rules (both backends)."""
    conf = load_conf(args)
    forward("GC", ipam_type(conf), args)
    valid = valid_attachments(args.conf)
    if valid is not None:
        from pycni.linux import ipmasq  # lazy: netfilter and the spawner cost ~2 ms a call; only ipMasq needs them

        ipmasq.gc(conf.get("name", ""), valid)
