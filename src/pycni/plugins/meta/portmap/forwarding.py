"""portmap's rules for one container: add, delete or check them with the configured backend, plus the side
steps of ADD (stale UDP conntrack entries, route_localnet for SNAT of 127/8).

Runs iptables/nft through linux.netfilter; never enters the container netns. Partial ADDs are rolled back.
"""

from __future__ import annotations

import sys
from _socket import AF_INET, AF_INET6

from pycni.linux import netfilter, sysctl
from pycni.spec.ipnet import family_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _mapper(conf: dict[str, Any]) -> Any:
    """The backend module, by name (config.py allows only these two): each loads only what it needs."""
    return __import__(f"{__package__}.{conf['backend']}", fromlist=["_"])


def _delete_stale_udp(conf: dict[str, Any], ip: str) -> None:
    """Drop UDP conntrack entries for the mapped host ports, so new traffic meets the new rules.
    Failures are only reported on stderr, as upstream."""
    family = AF_INET6 if family_of(ip) == 6 else AF_INET
    try:
        for pm in conf["portMappings"]:
            if pm["protocol"].lower() != "udp":
                continue
            netfilter.delete_conntrack_dst_port(pm["hostPort"] & 0xFFFF, netfilter.PROTO_UDP, family)
    except netfilter.NetfilterError as exc:
        sys.stderr.write(f"failed to delete stale UDP conntrack entries for {ip}: {exc}\n")


def _enable_localnet_routing(ip: str) -> None:
    """route_localnet=1 on the interface that routes to the container, so 127/8 sources can be DNATed."""
    ifname = netfilter.routable_host_ifname(ip)
    if ifname:
        try:
            sysctl.set(f"net/ipv4/conf/{ifname}/route_localnet", "1")
        except OSError as exc:
            raise ValueError(f"unable to enable route_localnet: {exc}") from None


def add(conf: dict[str, Any]) -> None:
    mapper = _mapper(conf)
    try:
        v4, v6 = conf["contIPv4"], conf["contIPv6"]
        if v4 is not None:
            mapper.forward_ports(conf, v4)
            _delete_stale_udp(conf, v4.split("/")[0])
            if conf["snat"]:
                _enable_localnet_routing(v4.split("/")[0])
        if v6 is not None:
            mapper.forward_ports(conf, v6)
            _delete_stale_udp(conf, v6.split("/")[0])
    except BaseException:
        try:
            mapper.unforward_ports(conf)
        except Exception:
            pass
        raise


def delete(conf: dict[str, Any]) -> None:
    _mapper(conf).unforward_ports(conf)


def check(conf: dict[str, Any]) -> None:
    mapper = _mapper(conf)
    for net in (conf["contIPv4"], conf["contIPv6"]):
        if net is not None:
            mapper.check_ports(conf, net)
