"""The Go types the dhcp exec and daemon exchange over net/rpc, and their mapping to pycni's result dicts.

Field sets are HEAD's (Debian 1.1.1 has fewer; gob matches fields by name, so both interoperate).
Addresses travel as gob bytes (4 for IPv4, 16 for IPv6), never as text. Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec import ipnet
from pycni.spec import result as R

from .gob import BYTES, INT, STRING, UINT, Slice, Struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REQUEST = Struct("Request", [("ServiceMethod", STRING), ("Seq", UINT)])
RESPONSE = Struct("Response", [("ServiceMethod", STRING), ("Seq", UINT), ("Error", STRING)])
CMD_ARGS = Struct("CmdArgs", [
    ("ContainerID", STRING), ("Netns", STRING), ("IfName", STRING), ("Args", STRING), ("Path", STRING),
    ("NetnsOverride", STRING), ("StdinData", BYTES),
])
EMPTY = Struct("", [])  # struct{}: the Release reply and every error body

_IPNET = Struct("IPNet", [("IP", BYTES), ("Mask", BYTES)])
_STRINGS = Slice("[]string", STRING)
_INTERFACE = Struct("", [("Name", STRING), ("Mac", STRING), ("Mtu", INT), ("Sandbox", STRING),
                         ("SocketPath", STRING), ("PciID", STRING)])
_IPCONFIG = Struct("", [("Interface", INT), ("Address", _IPNET), ("Gateway", BYTES)])
_ROUTE = Struct("", [("Dst", _IPNET), ("GW", BYTES), ("MTU", INT), ("AdvMSS", INT), ("Priority", INT),
                     ("Table", INT), ("Scope", INT)])
_DNS = Struct("DNS", [("Nameservers", _STRINGS), ("Domain", STRING), ("Search", _STRINGS), ("Options", _STRINGS)])
RESULT = Struct("Result", [
    ("CNIVersion", STRING),
    ("Interfaces", Slice("[]*types100.Interface", _INTERFACE)),
    ("IPs", Slice("[]*types100.IPConfig", _IPCONFIG)),
    ("Routes", Slice("[]*types.Route", _ROUTE)),
    ("DNS", _DNS),
])


# ---------------------------------------------------------------------------------------------
# pycni result dict (1.1.0 layout, canonical text) -> gob value (what the Go daemon sends)


def ip_bytes(text: str) -> bytes:
    ip = ipnet.parse_ip(text)
    if ip is None:
        raise ValueError(f"invalid IP address: {text}")
    return ip[1].to_bytes(4 if ip[0] == 4 else 16, "big")


def _ipnet_value(cidr: str) -> dict[str, bytes]:
    ip, plen = ipnet.parse_cidr(cidr)
    width = ipnet.bits(ip[0])
    mask = (((1 << plen) - 1) << (width - plen)) if plen else 0
    return {"IP": ip[1].to_bytes(width // 8, "big"), "Mask": mask.to_bytes(width // 8, "big")}


def result_to_gob(r: dict[str, Any]) -> dict[str, Any]:
    """A 1.1.0 result dict as the Go daemon fills current.Result (CNIVersion left unset, as upstream:
    the exec keeps the version it set before the call)."""
    out: dict[str, Any] = {}
    ifaces = []
    for i in r.get("interfaces") or []:
        ifaces.append({"Name": i.get("name", ""), "Mac": i.get("mac", ""), "Mtu": i.get("mtu", 0),
                       "Sandbox": i.get("sandbox", ""), "SocketPath": i.get("socketPath", ""),
                       "PciID": i.get("pciID", "")})
    if ifaces:
        out["Interfaces"] = ifaces
    ips = []
    for c in r.get("ips") or []:
        ipc: dict[str, Any] = {"Address": _ipnet_value(c["address"])}
        if "interface" in c:
            ipc["Interface"] = c["interface"]
        if c.get("gateway"):
            ipc["Gateway"] = ip_bytes(c["gateway"])
        ips.append(ipc)
    if ips:
        out["IPs"] = ips
    routes = []
    for rt in r.get("routes") or []:
        g: dict[str, Any] = {"Dst": _ipnet_value(rt["dst"])}
        if rt.get("gw"):
            g["GW"] = ip_bytes(rt["gw"])
        for src, dst in (("mtu", "MTU"), ("advmss", "AdvMSS"), ("priority", "Priority"), ("table", "Table"),
                         ("scope", "Scope")):
            if rt.get(src):
                g[dst] = rt[src]
        routes.append(g)
    if routes:
        out["Routes"] = routes
    dns = r.get("dns") or {}
    out["DNS"] = {"Nameservers": dns.get("nameservers") or [], "Domain": dns.get("domain", ""),
                  "Search": dns.get("search") or [], "Options": dns.get("options") or []}
    return out


# ---------------------------------------------------------------------------------------------
# gob value (decoded generically) -> pycni result dict


def _ip_of(b: bytes) -> ipnet.IP | None:
    if len(b) == 4:
        return (4, int.from_bytes(b, "big"))
    if len(b) == 16:
        v = int.from_bytes(b, "big")
        return (4, v & 0xFFFFFFFF) if v >> 32 == 0xFFFF else (6, v)
    return None


def _ip_text(b: bytes) -> str:
    ip = _ip_of(b)
    return "?" + b.hex() if ip is None else ipnet.ip_str(ip)  # Go prints a bad-length IP as ?hex


def _ipnet_text(v: Any) -> str:
    v = v if isinstance(v, dict) else {}
    ip = _ip_of(_as_bytes(v.get("IP")))
    if ip is None:
        return "<nil>"
    return ipnet.ipnet_str(ip, _as_bytes(v.get("Mask")))


def _as_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else b""


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def gob_to_result(v: Any) -> R.Result:
    """A decoded current.Result (HEAD's or 1.1.1's field set) as a 1.1.0 result dict."""
    v = v if isinstance(v, dict) else {}
    ifaces: list[Any] = []
    for i in v.get("Interfaces") or []:
        d: dict[str, Any] = {"name": i.get("Name", "")}
        for src, dst in (("Mac", "mac"), ("Mtu", "mtu"), ("Sandbox", "sandbox"), ("SocketPath", "socketPath"),
                         ("PciID", "pciID")):
            if i.get(src):
                d[dst] = i[src]
        ifaces.append(d)
    ips: list[Any] = []
    for c in v.get("IPs") or []:
        ipc: dict[str, Any] = {}
        if "Interface" in c:
            ipc["interface"] = _int(c["Interface"])
        ipc["address"] = _ipnet_text(c.get("Address"))
        gw = _as_bytes(c.get("Gateway"))
        if gw:
            ipc["gateway"] = _ip_text(gw)
        ips.append(ipc)
    routes: list[Any] = []
    for rt in v.get("Routes") or []:
        d = {"dst": _ipnet_text(rt.get("Dst"))}
        gw = _as_bytes(rt.get("GW"))
        if gw:
            d["gw"] = _ip_text(gw)
        for src, dst in (("MTU", "mtu"), ("AdvMSS", "advmss"), ("Priority", "priority")):
            if rt.get(src):
                d[dst] = _int(rt[src])
        for src, dst in (("Table", "table"), ("Scope", "scope")):
            if src in rt:
                d[dst] = _int(rt[src])
        routes.append(d)
    dns_in = v.get("DNS") or {}
    dns = {"nameservers": dns_in.get("Nameservers") or [], "domain": dns_in.get("Domain", ""),
           "search": dns_in.get("Search") or [], "options": dns_in.get("Options") or []}
    return R.new_result(ips, routes, dns, ifaces)
