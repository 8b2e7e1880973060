"""vrf's configuration: the VRF name, its table (Go's uint32, 0 = pick one) and prevResult.

Pure: no I/O. Decoding errors carry Go's texts for the plugin's VRFNetConf struct.
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf
from pycni.plugins.shared.prev_result import load_prev_result
from pycni.spec.godecode import RAW, STRING, json_kind, number_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIELDS: list[tuple[str, Any]] = [("vrfname", STRING), ("table", RAW)]


class Conf:
    __slots__ = ("raw", "vrfname", "table", "prev")

    def __init__(self, raw: dict[str, Any], prev: dict[str, Any] | None) -> None:
        self.raw = raw
        self.vrfname: str = raw.get("vrfname", "")
        self.table: int = raw.get("table", 0)
        self.prev = prev


def parse_conf(conf: Any) -> Conf:
    raw = decode_conf(conf, FIELDS, "failed to load netconf", "VRFNetConf")
    table = raw.get("table")
    if table is None:
        raw["table"] = 0
    elif isinstance(table, bool) or not isinstance(table, int) or not 0 <= table <= 0xFFFFFFFF:
        kind = json_kind(table)
        if kind == "number":
            kind = f"number {number_text(table)}"  # as written, like Go ("number 1e3")
        raise ValueError(f"failed to load netconf: json: cannot unmarshal {kind} into Go struct field "
                         "VRFNetConf.table of type uint32")
    if not raw.get("vrfname"):
        raise ValueError("configuration is expected to have a valid vrf name")
    _, prev = load_prev_result(raw)
    return Conf(raw, prev)
