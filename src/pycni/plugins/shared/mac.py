"""The MAC a runtime asks for (CNI_ARGS `MAC`, runtimeConfig.mac) and its validation.

Pure: no I/O; parses MACs with the codec's own parser (spec.hwaddr) so the error text is the one ADD would give.
"""

from __future__ import annotations

from pycni.spec.args import parse_cni_args
from pycni.spec.hwaddr import MACError, parse_mac

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def mac_override(cni_args: str, *later: str | None) -> str:
    """The MAC the runtime asks for: CNI_ARGS `MAC` (IgnoreUnknown honoured), then each non-empty value of
    `later` in turn wins; "" when none is set."""
    mac = ""
    if cni_args:
        mac = parse_cni_args(cni_args, ("MAC",)).get("MAC", "") or mac
    for value in later:
        mac = value or mac
    return mac


def apply_mac_overrides(conf: dict[str, Any], cni_args: str) -> None:
    """CNI_ARGS `MAC`, then runtimeConfig.mac, override conf["mac"] (left as it is when neither is set)."""
    mac = mac_override(cni_args, (conf.get("runtimeConfig") or {}).get("mac"))
    if mac:
        conf["mac"] = mac


def check_mac_arg(mac: str | None) -> None:
    """A MAC given by config or runtime must parse: ValueError("invalid args <mac> for MAC addr: ...")."""
    if not mac:
        return
    try:
        parse_mac(mac)
    except MACError as exc:
        raise ValueError(f"invalid args {mac} for MAC addr: {exc}") from None
