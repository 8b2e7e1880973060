"""`vlan`'s configuration: upstream's NetConf decoded with Go's rules, `master` and vlanId validated.

Pure: no I/O. The master MTU bound (a link lookup) is in plugin.py.
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf
from pycni.spec.godecode import BOOL, INT, STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs

FIELDS: list[tuple[str, Any]] = [
    ("master", STRING), ("vlanId", INT), ("mtu", INT), ("linkInContainer", BOOL), ("dad", STRING),
]


def decode(args: CmdArgs) -> dict[str, Any]:
    """json.Unmarshal into NetConf; errors as ValueError("failed to load netconf: <Go's text>")."""
    return decode_conf(args.conf, FIELDS, "failed to load netconf")


def validate(conf: dict[str, Any]) -> None:
    """loadConf's checks of the decoded config: a master, and a vlanId in 0..4094."""
    if not conf.get("master"):
        raise ValueError('"master" field is required. It specifies the host interface name to create the VLAN for')
    vid = conf.get("vlanId", 0)
    if vid < 0 or vid > 4094:
        raise ValueError(f"invalid VLAN ID {vid} (must be between 0 and 4095 inclusive)")
