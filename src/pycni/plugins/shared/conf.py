"""Decoding a plugin's config as its Go struct: types.NetConf plus the plugin's own fields, Go's rules and texts.

Pure: no I/O. MAC overrides are in `mac.py`; prevResult in `prev_result.py`.
"""

from __future__ import annotations

from pycni.spec.godecode import STRING, DecodeError, Struct, decode_struct, json_kind
from pycni.spec.netconf import NETCONF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_RUNTIME_MAC = 'struct { Mac string "json:\\"mac,omitempty\\"" }'


def decode_conf(conf: Any, extra: list[tuple[str, Any]], prefix: str, struct: str = "NetConf") -> dict[str, Any]:
    """Decode the config as the plugin's Go struct `main.<struct>` (types.NetConf plus `extra` fields) with Go's
    rules; errors become ValueError("<prefix>: <Go's text>")."""
    fields: list[Any] = [*NETCONF.fields, *extra]
    try:
        return decode_struct(conf, Struct(struct, fields, f"main.{struct}"))
    except DecodeError as exc:
        raise ValueError(f"{prefix}: {exc}") from None


def runtime_mac_field() -> tuple[str, Any]:
    """The `runtimeConfig` field of plugins whose runtime config is just `mac`."""
    return ("runtimeConfig", ("struct", Struct("", [("mac", STRING)], _RUNTIME_MAC)))


def uint32_field(conf: dict[str, Any], key: str, prefix: str) -> None:
    """Validate a field decoded as RAW into Go's uint32 (in place); ValueError with Go's text otherwise."""
    if key not in conf:
        return
    v = conf[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{prefix}: json: cannot unmarshal {json_kind(v)} into Go struct field "  # noqa: TRY004 - a config error (code 999), not a bug
                         f"NetConf.{key} of type uint32")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{prefix}: json: cannot unmarshal number {conf[key]!r} into Go struct field "
                         f"NetConf.{key} of type uint32")
    conf[key] = v


def ipam_type(conf: dict[str, Any]) -> str:
    """The `ipam.type` of a decoded config, "" when there is none (Go's zero value)."""
    return (conf.get("ipam") or {}).get("type", "")
