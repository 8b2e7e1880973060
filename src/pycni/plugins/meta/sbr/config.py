"""sbr's configuration: table, static gateways, addSourceHints, and the IPs of the interface in prevResult.

Pure: no I/O. prevResult is parsed with the config's version (no CNIVersion injection, as upstream's sbr).
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf
from pycni.plugins.shared.prev_result import load_prev_result
from pycni.spec import ipnet
from pycni.spec.godecode import BOOL, INT, STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIELDS: list[tuple[str, Any]] = [("table", INT), ("gateways", ("list", STRING, "[]string")), ("addSourceHints", BOOL)]


class Conf:
    __slots__ = ("raw", "version", "table", "gateways", "add_source_hints", "prev")

    def __init__(self, raw: dict[str, Any], prev: dict[str, Any] | None) -> None:
        self.raw = raw
        self.version: str = raw.get("cniVersion", "")
        self.table: int | None = raw.get("table")
        self.gateways: list[str] = raw.get("gateways") or []
        self.add_source_hints: bool = bool(raw.get("addSourceHints"))
        self.prev = prev


def parse_config(conf: Any) -> Conf:
    """Decode; prevResult is parsed with the config's version (no CNIVersion injection, as upstream's sbr)
    and converted to the current version."""
    raw = decode_conf(conf, FIELDS, "failed to parse network configuration", "PluginConf")
    _, prev = load_prev_result(raw, inject_version=False)
    return Conf(raw, prev)


def ip_configs(ifname: str, prev: dict[str, Any]) -> list[dict[str, Any]]:
    """getIPCfgs: the IPs whose interface index is absent, out of range, or names ifname."""
    ips = prev.get("ips") or []
    if not ips:
        raise ValueError(f"No IP addresses supplied on interface: {ifname}")
    ifaces = prev.get("interfaces") or []
    out = []
    for ipc in ips:
        idx = ipc.get("interface")
        if idx is not None and 0 <= idx < len(ifaces) and ifaces[idx].get("name") != ifname:
            continue
        if str(ipc.get("address", "")).split("/")[0] in ("0.0.0.0", "::"):
            # a rule from it would match no packet, and DEL (which tidies by the interface's addresses) could
            # never find it again
            raise ValueError(f"sbr: {ipc['address']} on {ifname} is the unspecified address, not the interface's")
        out.append(ipc)
    return out


def static_gateways(gateways: list[str]) -> tuple[str | None, str | None]:
    """(IPv4, IPv6) static gateways, at most one per family, in Go's text."""
    if len(gateways) > 2:
        raise ValueError("gateways list cannot contain more than 2 entries (one IPv4, one IPv6)")
    v4: str | None = None
    v6: str | None = None
    for gw in gateways:
        ip = ipnet.parse_ip(gw)
        if ip is None:
            raise ValueError(f"invalid static gateway IP address: {gw}")
        text = ipnet.ip_str(ip)
        if ip[0] == 4:
            if v4 is not None:
                raise ValueError(f"gateways list contains multiple IPv4 addresses: {v4} and {gw}")
            v4 = text
        else:
            if v6 is not None:
                raise ValueError(f"gateways list contains multiple IPv6 addresses: {v6} and {gw}")
            v6 = text
    return v4, v6
