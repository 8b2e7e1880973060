"""`static` IPAM, the implementation: the addresses, routes and DNS of the config, as upstream HEAD.

Addresses from the config, then CNI_ARGS IP/GATEWAY appended, replaced by args.cni.ips, replaced
by runtimeConfig.ips (config.py); routes passed through verbatim and in order, so several routes
to one destination (ECMP) survive. No state: DEL, GC and STATUS succeed without doing anything.
"""

from __future__ import annotations

from pycni.skel import CmdArgs
from pycni.spec import ipnet
from pycni.spec import result as R
from pycni.spec.netconf import check_prev_result

from .config import load_ipam_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass


def cmd_add(args: CmdArgs) -> R.Result:
    ipam, addresses, _ = load_ipam_config(args.conf, args.args)
    ips: list[R.IPConfig] = []
    for a in addresses:
        ipc: R.IPConfig = {"address": a.cidr()}
        if a.gateway is not None:
            ipc["gateway"] = ipnet.ip_str(a.gateway)
        ips.append(ipc)
    # A null route is dropped: upstream passes it on as `null` (and panics converting it to 0.2.0),
    # which no consumer of the result can use (see tests/conformance/differences.py).
    routes = [R.route_from_config(r) for r in ipam.get("routes") or [] if r is not None]
    return R.new_result(ips, routes, ipam.get("dns"))


def cmd_check(args: CmdArgs) -> None:
    _, addresses, _ = load_ipam_config(args.conf, args.args)
    current = check_prev_result(args.conf)
    for a in addresses:
        for ipc in current.get("ips") or []:
            got_ip = ipnet.parse_ip(ipc["address"].split("/")[0])
            if got_ip != a.ip:
                continue
            if a.gateway is None:
                break
            got_gw = ipnet.parse_ip(ipc["gateway"]) if "gateway" in ipc else None
            if got_gw == a.gateway:
                break
            raise ValueError(f"static: Failed to match addr {ipnet.ip_str(got_ip)} on interface {args.ifname}")


def cmd_del(args: CmdArgs) -> None:
    """Nothing to release: static allocates nothing."""


def cmd_gc(args: CmdArgs) -> None:
    """No state to collect."""


def cmd_status(args: CmdArgs) -> None:
    """Always able to serve ADD."""
