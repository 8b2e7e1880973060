"""bandwidth's configuration: the limits (top level, else runtimeConfig.bandwidth), the subnet lists, prevResult.

Pure: no I/O. Decoding errors carry Go's texts for the plugin's PluginConf / BandwidthEntry structs.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.plugins.shared.prev_result import load_prev_result
from pycni.spec import ipnet
from pycni.spec.godecode import RAW, DecodeError, Struct, decode_struct, json_kind, number_text
from pycni.spec.netconf import NETCONF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.spec.result import Result

UINT32_MAX = 0xFFFFFFFF

RATE_KEYS = ("ingressRate", "ingressBurst", "egressRate", "egressBurst")
SUBNET_KEYS = ("unshapedSubnets", "shapedSubnets")

_RUNTIME = Struct("", [("bandwidth", RAW)], 'struct { Bandwidth *main.BandwidthEntry "json:\\"bandwidth,omitempty\\"" }')
_FIELDS: list[tuple[str, Any, str]] = [*NETCONF.fields, ("runtimeConfig", ("struct", _RUNTIME), "runtimeConfig"),
                                       *((k, RAW, k) for k in RATE_KEYS + SUBNET_KEYS)]
CONF_STRUCT = Struct("PluginConf", _FIELDS, "main.PluginConf")


class Bandwidth:
    """One direction pair of limits (bits/s and bits) plus the pycni subnet lists."""

    __slots__ = ("ingress_rate", "ingress_burst", "egress_rate", "egress_burst", "unshaped", "shaped")

    def __init__(self, ingress_rate: int = 0, ingress_burst: int = 0, egress_rate: int = 0, egress_burst: int = 0,
                 unshaped: list[str] | None = None, shaped: list[str] | None = None) -> None:
        self.ingress_rate = ingress_rate
        self.ingress_burst = ingress_burst
        self.egress_rate = egress_rate
        self.egress_burst = egress_burst
        self.unshaped = unshaped or []
        self.shaped = shaped or []

    def is_zero(self) -> bool:
        return not (self.ingress_rate or self.ingress_burst or self.egress_rate or self.egress_burst)

    @property
    def ingress(self) -> bool:
        return self.ingress_rate > 0 and self.ingress_burst > 0

    @property
    def egress(self) -> bool:
        return self.egress_rate > 0 and self.egress_burst > 0

    @property
    def subnets(self) -> list[str]:
        return self.unshaped or self.shaped

    def __repr__(self) -> str:
        return (f"Bandwidth(in={self.ingress_rate}/{self.ingress_burst}, out={self.egress_rate}/{self.egress_burst}, "
                f"unshaped={self.unshaped}, shaped={self.shaped})")


def _json_kind(v: Any) -> str:
    """Go's UnmarshalTypeError value text for a uint64 field: numbers as written ("number 1e3")."""
    kind = json_kind(v)
    return f"number {number_text(v)}" if kind == "number" else kind


def _uint64(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ValueError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where} of type uint64")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where} of type []string")
    for item in value:
        if item is not None and not isinstance(item, str):
            raise ValueError(f"json: cannot unmarshal {_json_kind(item)} into Go struct field {where} of type string")
    return [item or "" for item in value]


def _folded(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    """Go's field lookup: the exact key, else the last case-insensitive match (present?, value)."""
    if key in obj:
        return True, obj[key]
    found, value = False, None
    for k, v in obj.items():
        if k.casefold() == key.casefold():
            found, value = True, v
    return found, value


def _entry(obj: dict[str, Any], struct_name: str, path: str) -> Bandwidth:
    vals = {}
    for k in RATE_KEYS:
        vals[k] = _uint64(_folded(obj, k)[1], f"{struct_name}.{path}{k}")
    subnets = {k: _strings(_folded(obj, k)[1], f"{struct_name}.{path}{k}") for k in SUBNET_KEYS}
    return Bandwidth(vals["ingressRate"], vals["ingressBurst"], vals["egressRate"], vals["egressBurst"],
                     subnets["unshapedSubnets"], subnets["shapedSubnets"])


def validate_rate_and_burst(rate: int, burst: int) -> None:
    if burst == 0 and rate != 0:
        raise ValueError("if rate is set, burst must also be set")
    if rate == 0 and burst != 0:
        raise ValueError("if burst is set, rate must also be set")
    if burst // 8 >= UINT32_MAX:
        raise ValueError("burst cannot be more than 4GB")


def validate_subnets(bw: Bandwidth) -> None:
    if bw.unshaped and bw.shaped:
        raise ValueError("unshapedSubnets and shapedSubnets cannot be both specified, one of them should be discarded")
    for s in bw.unshaped + bw.shaped:
        try:
            ipnet.parse_cidr(s)
        except ipnet.CIDRError as exc:
            raise ValueError(f"bad subnet {q(s)} provided, details {exc}") from None


class Conf:
    __slots__ = ("raw", "name", "version", "bandwidth", "prev")

    def __init__(self, raw: dict[str, Any], bandwidth: Bandwidth | None, prev: Result | None) -> None:
        self.raw = raw
        self.name: str = raw.get("name", "")
        self.version: str = raw.get("cniVersion", "")
        self.bandwidth = bandwidth
        self.prev = prev


def parse_config(conf: Any) -> Conf:
    """Decode, pick the limits (any top-level rate/burst key => the top-level entry, as Go allocates the
    embedded pointer; else runtimeConfig.bandwidth), validate them, parse prevResult."""
    try:
        raw = decode_struct(conf, CONF_STRUCT)
        top_present = any(_folded(conf, k)[0] for k in RATE_KEYS)
        top = _entry(conf, "PluginConf", "") if isinstance(conf, dict) else Bandwidth()
        rt_raw = (raw.get("runtimeConfig") or {}).get("bandwidth")
        if rt_raw is not None and not isinstance(rt_raw, dict):
            raise ValueError(f"json: cannot unmarshal {_json_kind(rt_raw).split(' ')[0]} into Go struct field "
                             ".runtimeConfig.bandwidth of type main.BandwidthEntry")
        runtime = _entry(rt_raw, "BandwidthEntry", "runtimeConfig.bandwidth.") if rt_raw is not None else None
    except (DecodeError, ValueError) as exc:
        raise ValueError(f"failed to parse network configuration: {exc}") from None
    bw: Bandwidth | None = None
    if top_present:
        bw = top
    elif runtime is not None:
        bw = runtime
        if not bw.subnets:  # operator-set subnet lists at top level apply to runtime-given limits
            bw.unshaped, bw.shaped = top.unshaped, top.shaped
    elif top.subnets:
        bw = top
    if bw is not None:
        validate_rate_and_burst(bw.ingress_rate, bw.ingress_burst)
        validate_rate_and_burst(bw.egress_rate, bw.egress_burst)
    prev, _ = load_prev_result(raw)
    return Conf(raw, bw, prev)
