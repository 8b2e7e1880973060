"""`macvlan`'s configuration: upstream's NetConf decoded with Go's rules, and the mode names.

Pure: no I/O. The parts of loadConf that look at links (default master, its MTU) are in plugin.py.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.plugins.shared.conf import decode_conf, runtime_mac_field, uint32_field
from pycni.spec.godecode import BOOL, INT, RAW, STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs

MODES = {"": 4, "bridge": 4, "private": 1, "vepa": 2, "passthru": 8}  # linux/if_link.h MACVLAN_MODE_*
MODE_NAMES = {4: "bridge", 1: "private", 2: "vepa", 8: "passthru"}

FIELDS: list[tuple[str, Any]] = [
    ("master", STRING), ("mode", STRING), ("mtu", INT), ("mac", STRING), ("linkInContainer", BOOL),
    ("bcqueuelen", RAW), runtime_mac_field(), ("dad", STRING),
]


def decode(args: CmdArgs, prefix: str = "failed to load netconf") -> dict[str, Any]:
    """json.Unmarshal into NetConf (bcqueuelen a uint32); errors as ValueError("<prefix>: <Go's text>")."""
    conf = decode_conf(args.conf, FIELDS, prefix)
    uint32_field(conf, "bcqueuelen", prefix)
    return conf


def mode_from_string(s: str) -> int:
    if s not in MODES:
        raise ValueError(f"unknown macvlan mode: {q(s)}")
    return MODES[s]
