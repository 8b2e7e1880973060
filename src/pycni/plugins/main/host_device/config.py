"""`host-device`'s configuration: upstream's NetConf decoded with Go's rules.

Pure: no I/O. Resolving the selectors against sysfs and the kernel is `devices.py`.
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf
from pycni.spec.godecode import BOOL, STRING, Struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs

_RUNTIME = 'struct { DeviceID string "json:\\"deviceID,omitempty\\"" }'
FIELDS: list[tuple[str, Any]] = [
    ("device", STRING), ("hwaddr", STRING), ("DPDKMode", BOOL), ("kernelpath", STRING), ("pciBusID", STRING),
    ("runtimeConfig", ("struct", Struct("", [("deviceID", STRING)], _RUNTIME))), ("dad", STRING),
]
SELECTORS = ("device", "hwaddr", "kernelpath", "pciBusID", "auxDevice")


def decode(args: CmdArgs, prefix: str = "failed to load netconf") -> dict[str, Any]:
    """json.Unmarshal into NetConf; errors as ValueError("<prefix>: <Go's text>")."""
    return decode_conf(args.conf, FIELDS, prefix)
