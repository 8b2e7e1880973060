"""`ipvlan`'s configuration: upstream's NetConf decoded with Go's rules, and the mode names.

Pure: no I/O. The parts of loadConf that look at links (default master) are in plugin.py.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.plugins.shared.conf import decode_conf
from pycni.spec.godecode import BOOL, INT, STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs

MODES = {"": 0, "l2": 0, "l3": 1, "l3s": 2}  # linux/if_link.h IPVLAN_MODE_*
MODE_NAMES = {0: "l2", 1: "l3", 2: "l3s"}

FIELDS: list[tuple[str, Any]] = [
    ("master", STRING), ("mode", STRING), ("mtu", INT), ("linkInContainer", BOOL), ("dad", STRING),
]


def decode(args: CmdArgs) -> dict[str, Any]:
    """json.Unmarshal into NetConf; errors as ValueError("failed to load netconf: <Go's text>")."""
    return decode_conf(args.conf, FIELDS, "failed to load netconf")


def mode_from_string(s: str) -> int:
    if s not in MODES:
        raise ValueError(f"unknown ipvlan mode: {q(s)}")
    return MODES[s]
