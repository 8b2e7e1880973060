"""`static` IPAM's configuration: Go-shaped decoding and upstream's LoadIPAMConfig, step for step.

Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec import ipnet
from pycni.spec import result as R
from pycni.spec.args import ArgsError, parse_cni_args
from pycni.spec.godecode import IP, STRING, DecodeError, Struct, decode_struct
from pycni.spec.version import check_addresses_per_family

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
        ("Address", ("struct", Struct("IPNet", [("IP", IP), ("Mask", ("bytes", "net.IPMask"))], "net.IPNet"),
                     "value"), "ipnet_struct"),
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
        ("dns", ("struct", R.DNS, "value")),
    ],
    "main.IPAMConfig",
)
_NET = Struct(
    "Net",
    [
        ("name", STRING),
        ("cniVersion", STRING),
        ("ipam", ("struct", _IPAM)),
        ("runtimeConfig", ("struct", Struct("", [("ips", _STRINGS)], "struct { IPs []string \"json:\\\"ips,omitempty\\\"\" }"),
                           "value")),
        ("args", ("struct", Struct("", [("cni", ("struct", Struct("IPAMArgs", [("ips", _STRINGS)], "main.IPAMArgs")))],
                                   "struct { A *main.IPAMArgs \"json:\\\"cni\\\"\" }"))),
    ],
    "main.Net",
)


class Address:
    """One address: an IP with a prefix length, or (from the raw Go "Address" struct) a raw mask."""

    __slots__ = ("ip", "plen", "gateway", "mask")

    def __init__(self, ip: ipnet.IP, plen: int | None, gateway: ipnet.IP | None = None,
                 mask: bytes | None = None) -> None:
        self.ip, self.plen, self.gateway, self.mask = ip, plen, gateway, mask

    def contains(self, ip: ipnet.IP) -> bool:
        """Go's IPNet.Contains (a raw mask of the wrong length contains nothing)."""
        if self.plen is not None:
            return ipnet.contains(self.ip, self.plen, ip)
        m = self.mask or b""
        if len(m) == 16 and self.ip[0] == 4:
            m = m[12:]
        if len(m) * 8 != ipnet.bits(self.ip[0]) or ip[0] != self.ip[0]:
            return False
        mv = int.from_bytes(m, "big")
        return self.ip[1] & mv == ip[1] & mv

    def cidr(self) -> str:
        if self.plen is None:
            text = ipnet.ipnet_str(self.ip, self.mask)
            return R.nil_address(self.ip[0] == 4) if text == R.NIL else text
        return ipnet.cidr_str(self.ip, self.plen)


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
    # A null entry is Go's zero Address (it fails as an empty CIDR); an "Address" object with an
    # "IP" (Go's untagged net.IPNet field) is taken as it is, without parsing "address".
    pending: list[tuple[Address | None, str, ipnet.IP | None]] = []
    for a in ipam.get("addresses") or []:
        a = a or {}
        raw = a.get("ipnet_struct") or {}
        pre = Address(raw["IP"], None, a.get("gateway"), raw.get("Mask")) if raw.get("IP") is not None else None
        pending.append((pre, a.get("address_str", ""), a.get("gateway")))
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
                    if addr is not None and addr.contains(gw):
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
    check_addresses_per_family(version, n4, n6)
    return ipam, addresses, version
