"""`bridge`'s configuration: upstream's NetConf decoded with Go's rules, vlan / vlanTrunk validated, the MAC
chosen (CNI_ARGS < args.cni.mac < runtimeConfig.mac).

Pure: no I/O.
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf as decode_netconf
from pycni.plugins.shared.conf import runtime_mac_field
from pycni.plugins.shared.mac import mac_override
from pycni.spec.godecode import BOOL, INT, STRING, Struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_BRIDGE = "cni0"

_TRUNK = Struct("VlanTrunk", [("minID", INT), ("maxID", INT), ("id", INT)], "main.VlanTrunk")
_ARGS = Struct("", [("cni", ("struct", Struct("BridgeArgs", [("mac", STRING)], "main.BridgeArgs")))],
               'struct { Cni main.BridgeArgs "json:\\"cni,omitempty\\"" }')
FIELDS: list[tuple[str, Any]] = [
    ("bridge", STRING),
    ("isGateway", BOOL),
    ("isDefaultGateway", BOOL),
    ("forceAddress", BOOL),
    ("ipMasq", BOOL),
    ("ipMasqBackend", STRING),
    ("mtu", INT),
    ("hairpinMode", BOOL),
    ("promiscMode", BOOL),
    ("vlan", INT),
    ("vlanTrunk", ("list", ("struct", _TRUNK), "[]*main.VlanTrunk")),
    ("preserveDefaultVlan", BOOL),
    ("macspoofchk", BOOL),
    ("enabledad", BOOL),
    ("disableContainerInterface", BOOL),
    ("portIsolation", BOOL),
    ("args", ("struct", _ARGS)),
    runtime_mac_field(),
    ("dad", STRING),
]


def decode_conf(raw: Any) -> dict[str, Any]:
    """json.Unmarshal into the NetConf struct, with the bridge name defaulted as upstream."""
    conf = decode_netconf(raw, FIELDS, "failed to load netconf")
    conf.setdefault("bridge", DEFAULT_BRIDGE)
    return conf


def collect_vlan_trunk(trunk: list[Any] | None) -> list[int] | None:
    """The VLAN IDs of `vlanTrunk`, sorted and de-duplicated (None when there are none)."""
    if trunk is None:
        return None
    vids: set[int] = set()
    for item in trunk:
        if item is None:
            continue
        lo, hi, one = item.get("minID"), item.get("maxID"), item.get("id")
        if lo is not None and hi is not None:
            if lo <= 0 or lo > 4094:
                raise ValueError("incorrect trunk minID parameter")
            if hi <= 0 or hi > 4094:
                raise ValueError("incorrect trunk maxID parameter")
            if hi < lo:
                raise ValueError("minID is greater than maxID in trunk parameter")
            vids.update(range(lo, hi + 1))
        elif lo is None and hi is not None:
            raise ValueError("minID and maxID should be configured simultaneously, minID is missing")
        elif lo is not None and hi is None:
            raise ValueError("minID and maxID should be configured simultaneously, maxID is missing")
        if one is not None:
            if one <= 0 or one > 4094:
                raise ValueError("incorrect trunk id parameter")
            vids.add(one)
    return sorted(vids) or None


def load_netconf(raw: Any, cni_args: str) -> dict[str, Any]:
    """loadNetConf: decode, validate vlan / vlanTrunk, then the MAC (CNI_ARGS < args.cni.mac <
    runtimeConfig.mac). Adds the private keys `_vlans` and `_mac`."""
    conf = decode_conf(raw)
    vlan = conf.get("vlan", 0)
    if vlan < 0 or vlan > 4094:
        raise ValueError(f"invalid VLAN ID {vlan} (must be between 0 and 4094)")
    conf["_vlans"] = collect_vlan_trunk(conf.get("vlanTrunk"))
    conf["_mac"] = mac_override(cni_args, ((conf.get("args") or {}).get("cni") or {}).get("mac"),
                                (conf.get("runtimeConfig") or {}).get("mac"))
    return conf


def dns_set(dns: dict[str, Any] | None) -> bool:
    """Whether the config's DNS has anything in it (upstream's isEmpty test)."""
    if not dns:
        return False
    return any(k in dns for k in ("nameservers", "search", "options")) or bool(dns.get("domain"))
