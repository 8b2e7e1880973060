"""`tap`'s configuration: upstream's NetConf decoded with Go's rules (owner/group as uint32), MAC overrides.

Pure: no I/O.
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf, runtime_mac_field, uint32_field
from pycni.plugins.shared.mac import apply_mac_overrides
from pycni.spec.godecode import BOOL, INT, RAW, STRING, Struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs

FIELDS: list[tuple[str, Any]] = [
    ("multiQueue", BOOL), ("mtu", INT), ("mac", STRING), ("owner", RAW), ("group", RAW),
    ("selinuxContext", STRING), ("bridge", STRING), ("args", ("struct", Struct("", [], "struct {}"))),
    runtime_mac_field(), ("dad", STRING),
]


def decode(args: CmdArgs) -> dict[str, Any]:
    """json.Unmarshal into NetConf; errors as ValueError("failed to load netconf: <Go's text>")."""
    return decode_conf(args.conf, FIELDS, "failed to load netconf")


def load_netconf(args: CmdArgs) -> dict[str, Any]:
    """loadConf: decode, owner/group as uint32, then the MAC overrides (CNI_ARGS `MAC`, runtimeConfig.mac)."""
    conf = decode(args)
    uint32_field(conf, "owner", "failed to load netconf")
    uint32_field(conf, "group", "failed to load netconf")
    apply_mac_overrides(conf, args.args)
    return conf

