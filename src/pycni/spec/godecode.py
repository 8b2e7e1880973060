"""Decode parsed JSON into plain dicts with Go encoding/json's rules for a described struct.

The reference plugins unmarshal their config into Go structs, so what they accept is Go's:
keys match field names case-insensitively (an exact match wins; the last key in document order
that maps to a field sets it), unknown keys are ignored, null means "leave unset", and a value
of the wrong JSON type fails with Go's UnmarshalTypeError text. This module reproduces that for
the shapes CNI uses. A decoded struct is a dict holding only the fields that were set.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec import ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class DecodeError(ValueError):
    """A Go-worded decoding failure (type mismatch, bad IP or CIDR)."""


# Field kinds. A kind is a string for scalars, or a tuple for containers:
#   ("list", kind, gotype)  ("map", kind, gotype)  ("struct", Struct)
STRING = "string"
INT = "int"
UINT = "uint"
BOOL = "bool"
IP = "ip"  # net.IP: a string parsed with net.ParseIP; "" is unset
IPNET = "ipnet"  # types.IPNet: a CIDR string, host bits kept
CIDR_NET = "cidr_net"  # types.IPNet in host-local ranges: same text, same parse
RAW = "raw"  # interface{} / json.RawMessage: anything, kept as parsed
OBJECT = "object"  # map[string]interface{}

_GO_SCALAR_TYPE = {STRING: "string", INT: "int", UINT: "uint", BOOL: "bool", IP: "net.IP", OBJECT: "map[string]interface {}"}


class Struct:
    """A Go struct: its type name (for error text) and its fields (json name, kind, key)."""

    __slots__ = ("name", "gotype", "fresh", "fields", "_exact", "_folded")

    def __init__(self, name: str, fields: list[tuple[str, Any]] | list[tuple[str, Any, str]],
                 gotype: str = "", fresh: bool = False) -> None:
        # name: Go's Type.Name() (used in "Go struct field <name>.<path>"); gotype: the qualified
        # type for "of type ..."; fresh: the type has its own UnmarshalJSON, so error paths restart.
        self.name = name
        self.gotype = gotype or name
        self.fresh = fresh
        self.fields: list[tuple[str, Any, str]] = [
            (f[0], f[1], f[2] if len(f) > 2 else f[0]) for f in fields  # type: ignore[misc]
        ]
        self._exact = {f[0]: f for f in self.fields}
        self._folded: dict[str, tuple[str, Any, str]] = {}
        for f in self.fields:
            self._folded.setdefault(f[0].lower(), f)

    def field_for(self, key: str) -> tuple[str, Any, str] | None:
        f = self._exact.get(key)
        if f is not None:
            return f
        return self._folded.get(key.lower())


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _type_error(value: Any, gotype: str, ctx: tuple[str, list[str]] | None) -> DecodeError:
    what = _json_kind(value)
    if what == "number" and gotype in ("int", "uint"):
        what = "number " + _number_text(value)
    if ctx is None or (not ctx[0] and not ctx[1]):
        return DecodeError(f"json: cannot unmarshal {what} into Go value of type {gotype}")
    return DecodeError(f"json: cannot unmarshal {what} into Go struct field {ctx[0]}.{'.'.join(ctx[1])} of type {gotype}")


def _number_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return repr(v)
    return repr(v)


def _go_type(kind: Any) -> str:
    if isinstance(kind, str):
        if kind in (IPNET, CIDR_NET):
            return "types.IPNet"
        return _GO_SCALAR_TYPE.get(kind, "interface {}")
    if kind[0] == "struct":
        return kind[1].gotype
    return kind[2]


def decode_value(value: Any, kind: Any, ctx: tuple[str, list[str]] | None) -> Any:
    """Decode one JSON value into `kind`; None means "null: leave unset"."""
    if value is None:
        return None
    if isinstance(kind, str):
        if kind == RAW:
            return value
        if kind == STRING:
            if not isinstance(value, str):
                raise _type_error(value, "string", ctx)
            return value
        if kind in (INT, UINT):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(value, kind, ctx)
            if kind == UINT and value < 0:
                raise _type_error(value, kind, ctx)
            if not -(2**63) <= value < 2**63:
                raise _type_error(value, kind, ctx)
            return value
        if kind == BOOL:
            if not isinstance(value, bool):
                raise _type_error(value, "bool", ctx)
            return value
        if kind == IP:
            if not isinstance(value, str):
                raise _type_error(value, "net.IP", ctx)
            if value == "":
                return None
            ip = ipnet.parse_ip(value)
            if ip is None:
                raise DecodeError(f"invalid IP address: {value}")
            return ip
        if kind in (IPNET, CIDR_NET):
            # types.IPNet.UnmarshalJSON decodes a string with no struct context.
            if not isinstance(value, str):
                raise DecodeError(f"json: cannot unmarshal {_json_kind(value)} into Go value of type string")
            try:
                return ipnet.parse_cidr(value)
            except ipnet.CIDRError as exc:
                raise DecodeError(str(exc)) from None
        if kind == OBJECT:
            if not isinstance(value, dict):
                raise _type_error(value, _GO_SCALAR_TYPE[OBJECT], ctx)
            return value
        raise AssertionError(kind)
    tag = kind[0]
    if tag == "struct":
        return decode_struct(value, kind[1], ctx)
    if tag == "list":
        if not isinstance(value, list):
            raise _type_error(value, kind[2], ctx)
        return [decode_value(item, kind[1], ctx) for item in value]
    if tag == "map":
        if not isinstance(value, dict):
            raise _type_error(value, kind[2], ctx)
        return {k: decode_value(v, kind[1], ctx) for k, v in value.items()}
    raise AssertionError(kind)


def decode_struct(value: Any, struct: Struct, ctx: tuple[str, list[str]] | None = None) -> dict[str, Any]:
    """Decode a JSON object into {field key: value} for the fields that were set."""
    if not isinstance(value, dict):
        raise _type_error(value, struct.gotype, None if struct.fresh else ctx)
    path = ctx[1] if ctx and not struct.fresh else []
    out: dict[str, Any] = {}
    for k, v in value.items():
        f = struct.field_for(k)
        if f is None:
            continue
        name, kind, key = f
        decoded = decode_value(v, kind, (struct.name, path + [name]))
        if decoded is None:
            # null leaves a Go field as it was; for a pointer it becomes nil.
            if v is None and key in out and not isinstance(kind, str):
                del out[key]
            continue
        out[key] = decoded
    return out
