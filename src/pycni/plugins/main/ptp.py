"""`ptp`: a veth pair per container, routed point-to-point through the host (upstream HEAD).

Recipe: IPAM ADD -> forwarding on -> veth in the container netns -> configure_iface (where ECMP
routes become multipath routes) -> point-to-point routes via the gateway -> gateway addresses and
host routes on the host end -> optional masquerade. DEL releases the IP first and succeeds when
the namespace is already gone. Config: ipMasq, ipMasqBackend, mtu, ipam, dns, and pycni's `dad`.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def load_conf(args: CmdArgs) -> dict[str, Any]:
    from pycni.plugins.common import decode_conf
    from pycni.spec.godecode import BOOL, INT, STRING

    return decode_conf(args.conf, [("ipMasq", BOOL), ("ipMasqBackend", STRING), ("mtu", INT), ("dad", STRING)],
                       "failed to load netconf")


def enable_forward(ips: list[dict[str, Any]]) -> None:
    from pycni.linux import sysctl

    fams = {"6" if ":" in ipc["address"] else "4" for ipc in ips}
    for fam in sorted(fams):
        name = "net/ipv4/ip_forward" if fam == "4" else "net/ipv6/conf/all/forwarding"
        try:
            if sysctl.get(name).strip() != "1":
                sysctl.set(name, "1")
        except OSError as exc:
            raise ValueError(f"Could not enable IP forwarding: {exc}") from None


def _host_prefix(ip: str) -> str:
    return f"{ip}/128" if ":" in ip else f"{ip}/32"


def _setup_container(args: CmdArgs, host_fd: int, mtu: int, result: dict[str, Any], dad: str) -> dict[str, Any]:
    """Runs inside the container netns. Returns the host interface entry."""
    from _socket import AF_INET, AF_INET6

    from pycni.ipam.configure import configure_iface
    from pycni.linux import link, route
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError

    host, cont = link.setup_veth(args.ifname, "", mtu, "", f"/proc/self/fd/{host_fd}")
    host_if = {"name": host.name, "mac": host.address or ""}
    cont_if = {"name": cont.name, "mac": cont.address or "", "sandbox": args.netns}
    for ipc in result["ips"]:
        ipc["interface"] = 1
    result["interfaces"] = [host_if, cont_if]
    configure_iface(args.ifname, result, dad=dad)
    for ipc in result["ips"]:
        ip, plen = c.split_cidr(ipc["address"])
        fam = AF_INET6 if ":" in ip else AF_INET
        net = c.mask_ip(ip, plen)
        gw = ipc.get("gateway")
        try:
            route.route_del(route.Route(family=fam, dst=net if plen else None, dst_len=plen, oif=cont.index))
        except NetlinkError as exc:
            raise ValueError(f"failed to delete route {net}/{plen}: {exc}") from None
        if gw is None:
            raise ValueError(f"ptp: IPAM returned no gateway for {ipc['address']}")
        gw_len = 128 if fam == AF_INET6 else 32
        for r in (
            route.Route(family=fam, dst=gw, dst_len=gw_len, oif=cont.index, scope=c.RT_SCOPE_LINK, prefsrc=ip),
            route.Route(family=fam, dst=net if plen else None, dst_len=plen, oif=cont.index, gateway=gw, prefsrc=ip),
        ):
            try:
                route.route_add(r)
            except NetlinkError as exc:
                raise ValueError(f"failed to add route {r.dst_cidr}: {exc}") from None
    return host_if


def _setup_host(host_name: str, result: dict[str, Any], dad: str) -> None:
    from pycni.linux import addr, link, route
    from pycni.netlink import codec as c
    from pycni.netlink.socket import ExistsError, NetlinkError

    try:
        veth = link.link_by_name(host_name)
    except NetlinkError as exc:
        raise ValueError(f'failed to lookup "{host_name}": {exc}') from None
    for ipc in result["ips"]:
        gw = ipc["gateway"]
        # With "dad": "skip" the host end's IPv6 gateway address skips DAD too.
        flags = c.IFA_F_NODAD if dad == "skip" and ":" in gw else 0
        try:
            addr.addr_add(veth.index, _host_prefix(gw), flags=flags)
        except ExistsError:
            pass  # another IP of this container shares the gateway
        except NetlinkError as exc:
            raise ValueError(f"failed to add IP addr {ipc['gateway']} to veth: {exc}") from None
        ip = ipc["address"].split("/")[0]
        try:
            route.route_add(route.make_route(_host_prefix(ip), oif=veth.index, scope=c.RT_SCOPE_HOST))
        except ExistsError:
            pass
        except NetlinkError as exc:
            raise ValueError(f"failed to add route on host: {exc}") from None


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    import os

    from pycni import invoke
    from pycni.ipam.configure import dad_mode
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = load_conf(args)
    dad = dad_mode(conf, args.conf)
    ipam_type = common.ipam_type(conf)
    result = invoke.ipam_add(ipam_type, args)
    try:
        if not result.get("ips"):
            raise ValueError("IPAM plugin returned missing IP config")
        enable_forward(result["ips"])
        common.check_netns(args.netns, verbatim=True)
        host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            with netns(args.netns):
                host_if = _setup_container(args, host_fd, conf.get("mtu", 0), result, dad)
        finally:
            os.close(host_fd)
        _setup_host(host_if["name"], result, dad)
        if conf.get("ipMasq"):
            from pycni.linux import ipmasq

            ipmasq.setup(conf.get("ipMasqBackend"), [i["address"] for i in result["ips"]],
                         conf.get("name", ""), args.ifname, args.container_id)
    except BaseException:
        common.release_quietly(ipam_type, args)
        raise
    if conf.get("dns"):
        from pycni.spec.result import dns_from_config

        result["dns"] = dns_from_config(conf["dns"])
    return result


def _del_link_with_addrs(ifname: str) -> list[str]:
    """DelLinkByNameAddr: delete ifname, returning its global unicast addresses (for masquerade)."""
    from pycni.linux import addr, link
    from pycni.netlink import codec as c

    lk = link.link_by_name(ifname)
    out = [f"{a.local or a.address}/{a.prefixlen}" for a in addr.addr_list(lk.index)
           if a.scope == c.RT_SCOPE_UNIVERSE]
    link.link_del(lk)
    return out


def cmd_del(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.netlink.netns import NSPathNotExistError, netns
    from pycni.netlink.socket import LinkNotFoundError
    from pycni.plugins.common import ipam_type

    conf = load_conf(args)
    invoke.ipam_call(ipam_type(conf), "DEL", args)
    addrs: list[str] = []
    if args.netns != "":
        try:
            with netns(args.netns):
                try:
                    addrs = _del_link_with_addrs(args.ifname)
                except LinkNotFoundError:
                    pass
        except NSPathNotExistError:
            pass
    if conf.get("ipMasq"):
        # pycni: found by name, so also when the netns, CNI_NETNS or the link is gone (upstream leaks then)
        from pycni.linux import ipmasq

        ipmasq.teardown(addrs, conf.get("name", ""), args.ifname, args.container_id)


def cmd_check(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.ipam.configure import check_iface
    from pycni.netlink.netns import netns
    from pycni.plugins import common

    conf = load_conf(args)
    common.check_netns(args.netns, verbatim=True)
    invoke.ipam_call(common.ipam_type(conf), "CHECK", args)
    result = common.required_prev_result(conf, "ptp: Required prevResult missing")
    cont = common.container_iface(result, args, "Sandbox in prevResult %s doesn't match configured netns: %s")
    with netns(args.netns):
        _validate_container_interface(cont)
        check_iface(args.ifname, result)


def _validate_container_interface(intf: dict[str, Any]) -> None:
    from pycni.plugins.common import container_link

    lk = container_link(intf, "veth", tag="ptp: ", kind_text="veth/p2p").link
    if intf.get("mac") and intf["mac"].lower() != (lk.address or "").lower():
        raise ValueError(f"ptp: Interface {intf['name']} Mac {intf['mac']} doesn't match container Mac: {lk.address}")


def cmd_status(args: CmdArgs) -> None:
    from pycni import invoke
    from pycni.plugins.common import ipam_type

    invoke.ipam_call(ipam_type(load_conf(args)), "STATUS", args)


def cmd_gc(args: CmdArgs) -> None:
    """Forward GC to the IPAM plugin (spec MUST) and drop stale nftables masquerade rules."""
    from pycni.plugins.common import forward, ipam_type
    from pycni.spec.netconf import valid_attachments

    conf = load_conf(args)
    forward("GC", ipam_type(conf), args)
    valid = valid_attachments(args.conf)
    if valid is not None:
        from pycni.linux import ipmasq

        ipmasq.gc(conf.get("name", ""), valid)


PLUGIN = Plugin("ptp", impl=__name__)  # transitional: moves into a package

