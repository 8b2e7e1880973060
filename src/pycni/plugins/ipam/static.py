"""`static` IPAM: hands out exactly the addresses, routes and DNS it is configured with.

Behaviour for behaviour as upstream HEAD (plugins/ipam/static): addresses from the config, then
CNI_ARGS IP/GATEWAY appended, replaced by args.cni.ips, replaced by runtimeConfig.ips; routes
passed through verbatim and in order, so several routes to one destination (ECMP) survive.
No state: DEL, GC and STATUS succeed without doing anything.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin
from pycni.spec import ipnet
from pycni.spec import result as R
from pycni.spec.args import ArgsError, parse_cni_args
from pycni.spec.godecode import IP, IPNET, RAW, STRING, DecodeError, Struct, decode_struct
from pycni.spec.netconf import load_netconf, parse_prev_result
from pycni.spec.version import VersionError, at_least

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_STRINGS = ("list", STRING, "[]string")
_ADDRESS = Struct(
    "Address",
    [
        ("address", STRING, "address_str"),
        ("gateway", IP),
        # Untagged Go fields: "Address" is a net.IPNet struct, "Version" an unused string.
        ("Address", ("struct", Struct("IPNet", [("IP", IP), ("Mask", RAW)], "net.IPNet")), "ipnet_struct"),
        ("Version", STRING, "unused_version"),
    ],
    "main.Address",
)
_IPAM = Struct(
    "IPAMConfig",
    [
        ("Name", STRING),
        ("type", STRING),
        ("routes", ("list", ("struct", R.ROUTE), "[]*types.Route")),
        ("addresses", ("list", ("struct", _ADDRESS), "[]main.Address")),
        ("dns", ("struct", R.DNS)),
    ],
    "main.IPAMConfig",
)
_NET = Struct(
    "Net",
    [
        ("name", STRING),
        ("cniVersion", STRING),
        ("ipam", ("struct", _IPAM)),
        ("runtimeConfig", ("struct", Struct("", [("ips", _STRINGS)], "struct { IPs []string \"json:\\\"ips,omitempty\\\"\" }"))),
        ("args", ("struct", Struct("", [("cni", ("struct", Struct("IPAMArgs", [("ips", _STRINGS)], "*main.IPAMArgs")))],
                                   "*struct { A *main.IPAMArgs \"json:\\\"cni\\\"\" }"))),
    ],
    "main.Net",
)


class Address:
    __slots__ = ("ip", "plen", "gateway")

    def __init__(self, ip: ipnet.IP, plen: int, gateway: ipnet.IP | None = None) -> None:
        self.ip, self.plen, self.gateway = ip, plen, gateway


def _parse_list(items: list[str], what: str) -> list[Address]:
    out = []
    for s in items:
        try:
            ip, plen = ipnet.parse_cidr(s)
        except ipnet.CIDRError:
            raise ValueError(what.format(s)) from None
        out.append(Address(ip, plen))
    return out


def load_ipam_config(conf: Any, env_args: str) -> tuple[dict[str, Any], list[Address], str]:
    """LoadIPAMConfig: returns (ipam section, final addresses, raw cniVersion)."""
    try:
        n = decode_struct(conf, _NET)
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    ipam = n.get("ipam")
    if ipam is None:
        raise ValueError("IPAM config missing 'ipam' key")
    # Config-file addresses stay unparsed (None) until the end, as upstream: GATEWAY skips them.
    pending: list[tuple[Address | None, str, ipnet.IP | None]] = [
        (None, a.get("address_str", ""), a.get("gateway")) for a in ipam.get("addresses") or [] if a is not None
    ]
    if env_args:
        try:
            e = parse_cni_args(env_args, ("IP", "GATEWAY"))
        except ArgsError as exc:
            raise ValueError(str(exc)) from None
        if e.get("IP", ""):
            for item in e["IP"].split(","):
                s = item.strip()
                try:
                    ip, plen = ipnet.parse_cidr(s)
                except ipnet.CIDRError:
                    raise ValueError(f"the 'ip' field is expected to be in CIDR notation, got: '{s}'") from None
                pending.append((Address(ip, plen), s, None))
        if e.get("GATEWAY", ""):
            for item in e["GATEWAY"].split(","):
                gw = ipnet.parse_ip(item.strip())
                if gw is None:
                    raise ValueError(f"invalid gateway address: {item}")
                for addr, _, _ in pending:
                    if addr is not None and ipnet.contains(addr.ip, addr.plen, gw):
                        addr.gateway = gw
    cni_ips = ((n.get("args") or {}).get("cni") or {}).get("ips") or []
    if cni_ips:
        got = _parse_list(cni_ips, "an entry in the 'ips' field is NOT in CIDR notation, got: '{}'")
        pending = [(a, "", None) for a in got]
    rc_ips = (n.get("runtimeConfig") or {}).get("ips") or []
    if rc_ips:
        got = _parse_list(rc_ips, "an entry in the 'ips' field is NOT in CIDR notation, got: '{}'")
        pending = [(a, "", None) for a in got]

    addresses: list[Address] = []
    for addr, text, gw in pending:
        if addr is None:
            try:
                ip, plen = ipnet.parse_cidr(text)
            except ipnet.CIDRError:
                raise ValueError(f"the 'address' field is expected to be in CIDR notation, got: '{text}'") from None
            addr = Address(ip, plen, gw)
        addresses.append(addr)
    n4 = sum(1 for a in addresses if a.ip[0] == 4)
    n6 = len(addresses) - n4
    version = n.get("cniVersion", "")
    if n4 > 1 or n6 > 1:
        try:
            ok = at_least(version, "0.3.0")
        except VersionError:
            ok = False
        if not ok:
            raise ValueError(f"CNI version {version} does not support more than 1 address per family")
    return ipam, addresses, version


def cmd_add(args: CmdArgs) -> R.Result:
    ipam, addresses, _ = load_ipam_config(args.conf, args.args)
    ips = []
    for a in addresses:
        ipc: dict[str, Any] = {"address": ipnet.cidr_str(a.ip, a.plen)}
        if a.gateway is not None:
            ipc["gateway"] = ipnet.ip_str(a.gateway)
        ips.append(ipc)
    routes = [R.route_from_config(r) for r in ipam.get("routes") or [] if r is not None]
    return R.new_result(ips, routes, ipam.get("dns"))


def cmd_check(args: CmdArgs) -> None:
    _, addresses, _ = load_ipam_config(args.conf, args.args)
    try:
        n = load_netconf(args.conf)
    except DecodeError as exc:
        raise ValueError(f"failed to load netconf: {exc}") from None
    if n.get("prevResult") is None:
        raise ValueError("Required prevResult missing")
    prev = parse_prev_result(n["prevResult"], n.get("cniVersion", ""))
    assert prev is not None
    current = R.convert(prev, "1.1.0")
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


def cmd_noop(args: CmdArgs) -> None:
    """GC and STATUS: no state to collect, always able to serve ADD."""


PLUGIN = Plugin("static", add=cmd_add, delete=cmd_del, check=cmd_check, gc=cmd_noop, status=cmd_noop)


def main() -> None:
    from pycni.skel import main as skel_main

    skel_main(PLUGIN)


if __name__ == "__main__":
    main()
