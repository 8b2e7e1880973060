"""`portmap`: forward host ports to the container (chained; upstream HEAD), with iptables or nftables.

Config: runtimeConfig.portMappings (capability `portMappings`), backend, snat, markMasqBit,
externalSetMarkChain, masqAll, conditionsV4/conditionsV6. The container IPs are the first IPv4 and
first IPv6 address of prevResult on CNI_IFNAME; ADD answers prevResult unchanged. DEL never enters
the container netns, so it works (and is idempotent) when the namespace is gone.

Deliberate differences from upstream: when ADD fails part-way (e.g. the IPv6 rules cannot be added
after the IPv4 ones were), the rules this ADD made for the container are removed before the error is
returned (upstream leaves them); GC and STATUS are no-ops, as upstream (there is no safe GC: the rules
only carry the container ID, not the network, and GC only knows this network's attachments).
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _load(args: CmdArgs, prefix: str) -> tuple[dict[str, Any], Any]:
    from pycni.plugins.meta.portmap.config import parse_config

    try:
        conf, prev = parse_config(args.conf, args.ifname)
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from None
    conf["containerID"] = args.container_id
    return conf, prev


def _mapper(conf: dict[str, Any]) -> Any:
    if conf["backend"] == "nftables":
        from pycni.plugins.meta.portmap import nftables as mapper
    else:
        from pycni.plugins.meta.portmap import iptables as mapper  # type: ignore[no-redef]
    return mapper


def _delete_stale_udp(conf: dict[str, Any], v6: bool, ip: str) -> None:
    """Drop UDP conntrack entries for the mapped host ports, so new traffic meets the new rules.
    Failures are only reported on stderr, as upstream."""
    import sys

    from pycni.linux import netfilter

    try:
        for pm in conf["portMappings"]:
            if pm["protocol"].lower() != "udp":
                continue
            netfilter.delete_conntrack_dst_port(pm["hostPort"] & 0xFFFF, netfilter.PROTO_UDP,
                                                netfilter.AF_INET6 if v6 else netfilter.AF_INET)
    except netfilter.NetfilterError as exc:
        sys.stderr.write(f"failed to delete stale UDP conntrack entries for {ip}: {exc}\n")


def _enable_localnet_routing(ip: str) -> None:
    """route_localnet=1 on the interface that routes to the container, so 127/8 sources can be DNATed."""
    from pycni.linux import netfilter, sysctl

    ifname = netfilter.routable_host_ifname(ip)
    if ifname:
        try:
            sysctl.set(f"net/ipv4/conf/{ifname}/route_localnet", "1")
        except OSError as exc:
            raise ValueError(f"unable to enable route_localnet: {exc}") from None


def cmd_add(args: CmdArgs) -> Any:
    conf, prev = _load(args, "failed to parse config: ")
    if prev is None:
        raise ValueError("must be called as chained plugin")
    if not conf["portMappings"]:
        return prev
    mapper = _mapper(conf)
    try:
        v4, v6 = conf["contIPv4"], conf["contIPv6"]
        if v4 is not None:
            mapper.forward_ports(conf, v4)
            _delete_stale_udp(conf, False, v4.split("/")[0])
            if conf["snat"]:
                _enable_localnet_routing(v4.split("/")[0])
        if v6 is not None:
            mapper.forward_ports(conf, v6)
            _delete_stale_udp(conf, True, v6.split("/")[0])
    except BaseException:
        try:
            mapper.unforward_ports(conf)
        except Exception:
            pass
        raise
    return prev


def cmd_del(args: CmdArgs) -> None:
    conf, _prev = _load(args, "failed to parse config: ")
    if not conf["portMappings"]:
        return
    _mapper(conf).unforward_ports(conf)


def cmd_check(args: CmdArgs) -> None:
    conf, prev = _load(args, "")
    if prev is None:
        raise ValueError("Required prevResult missing")
    if not conf["portMappings"]:
        return
    mapper = _mapper(conf)
    for net in (conf["contIPv4"], conf["contIPv6"]):
        if net is not None:
            mapper.check_ports(conf, net)


cmd_gc = cmd_status = None  # upstream's skel: no GC/STATUS handler, so both succeed doing nothing

PLUGIN = Plugin("portmap", impl=__name__)  # transitional: moves into a package

