"""`bridge`'s gateways: upstream's calcGateways on an IPAM result (computed gateways, default routes).

Pure: no I/O; changes the result it is given, as upstream.
"""

from __future__ import annotations

from pycni.netlink import codec as c
from pycni.spec.ipnet import family_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.spec.result import Result, Route


def calc_gateway_ip(cidr: str) -> str:
    """The subnet's first address (network + 1)."""
    ip, plen = c.split_cidr(cidr)
    raw = c.ip_bytes(c.mask_ip(ip, plen))
    value = (int.from_bytes(raw, "big") + 1) % (1 << (8 * len(raw)))
    return c.ip_str(c.ip_family(ip), value.to_bytes(len(raw), "big"))


def calc_gateways(result: Result, is_gw: bool, is_default_gw: bool) -> tuple[list[str], list[str]]:
    """calcGateways: every IP gets `interface: 2`; a missing gateway is computed when is_gw; with
    is_default_gw a default route via the gateway is appended per family unless the result already has a
    default route *with* a gateway. Returns the gateway CIDRs (gateway IP + the IP's prefix) per family."""
    gws: dict[int, list[str]] = {4: [], 6: []}
    found = {4: False, 6: False}
    routes = result.setdefault("routes", [])
    for ipc in result.get("ips") or []:
        ip, plen = c.split_cidr(ipc["address"])
        fam = family_of(ip)
        default = "0.0.0.0/0" if fam == 4 else "::/0"
        ipc["interface"] = 2
        if ipc.get("gateway") is None and is_gw:
            ipc["gateway"] = calc_gateway_ip(ipc["address"])
        if is_default_gw and not found[fam]:
            for r in routes:
                if r.get("gw") is not None and _canonical_cidr(r["dst"]) == default:
                    found[fam] = True
                    break
            if not found[fam]:
                route: Route = {"dst": default}
                if ipc.get("gateway") is not None:
                    route["gw"] = ipc["gateway"]
                routes.append(route)
                found[fam] = True
        if is_gw:
            gws[fam].append(f"{c.canonical_ip(ipc['gateway'])}/{plen}")
    if not routes:
        del result["routes"]
    return gws[4], gws[6]


def _canonical_cidr(cidr: str) -> str:
    try:
        ip, plen = c.split_cidr(cidr)
    except c.CodecError:
        return cidr
    return f"{c.mask_ip(ip, plen)}/{plen}"
