"""Decode parsed JSON into plain dicts with Go encoding/json's rules for a described struct.

The reference plugins unmarshal their config into Go structs, so what they accept is Go's:
keys match field names case-insensitively (an exact match wins; the last key in document order
that maps to a field sets it), unknown keys are ignored, null means "leave unset" (or "reset" for
pointers, slices, maps and net.IP), and a value of the wrong JSON type fails with Go's
UnmarshalTypeError text. Like Go, a type error is remembered and decoding goes on; an error from
a type with its own UnmarshalJSON/UnmarshalText (a bad IP or CIDR, anything inside a "fresh"
struct) stops decoding at once and wins over a remembered type error. A decoded struct is a dict
holding only the fields that were set.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec import ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class DecodeError(ValueError):
    """A Go-worded decoding failure (type mismatch, bad IP or CIDR)."""


class TypeDecodeError(DecodeError):
    """Go's *json.UnmarshalTypeError: what was found, the Go type, and where (struct, field path)."""

    def __init__(self, what: str, gotype: str, struct: str | None = None, path: tuple[str, ...] = ()) -> None:
        self.what, self.gotype, self.struct, self.path = what, gotype, struct, path
        super().__init__(self.text())

    def text(self) -> str:
        if self.struct or self.path:
            return (f"json: cannot unmarshal {self.what} into Go struct field "
                    f"{self.struct or ''}.{'.'.join(self.path)} of type {self.gotype}")
        return f"json: cannot unmarshal {self.what} into Go value of type {self.gotype}"

    def in_context(self, ctx: Ctx) -> TypeDecodeError:
        """The error as it leaves a custom unmarshaler decoded at `ctx` (Go >= 1.24 addErrorContext:
        the outer struct's name, the outer field path followed by the inner one)."""
        if ctx is None or (not ctx[0] and not ctx[1]):
            return self
        return TypeDecodeError(self.what, self.gotype, ctx[0], tuple(ctx[1]) + self.path)


# Field kinds. A kind is a string for scalars, or a tuple for containers:
#   ("list", kind, gotype)  ("map", kind, gotype)  ("struct", Struct[, "value"])  ("bytes", gotype)
# ("bytes", gotype) is a Go []byte type (base64 text or an array of 0..255), decoded to bytes.
# A struct kind is a pointer field unless its third element is "value" (null then leaves it alone).
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
# Kinds whose Go type is a slice, map, pointer or interface: an explicit null resets them.
_NULL_RESETS = frozenset((IP, RAW, OBJECT))

if TYPE_CHECKING:
    Ctx = tuple[str, list[str]] | None  # (Go struct name, JSON field path) of the value being decoded


class Struct:
    """A Go struct: its type name (for error text) and its fields (json name, kind, key)."""

    __slots__ = ("name", "gotype", "fresh", "fields", "_exact", "_folded")

    def __init__(self, name: str, fields: Sequence[tuple[Any, ...]],
                 gotype: str = "", fresh: bool = False) -> None:
        # name: Go's Type.Name() (used in "Go struct field <name>.<path>"); gotype: the qualified
        # type for "of type ..."; fresh: the type has its own UnmarshalJSON (it decodes into a
        # private twin struct), so errors inside it stop the outer decoding.
        self.name = name
        self.gotype = gotype or name
        self.fresh = fresh
        self.fields: list[tuple[str, Any, str]] = [
            (f[0], f[1], f[2] if len(f) > 2 else f[0]) for f in fields
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


def json_kind(v: Any) -> str:
    """The JSON kind Go names in 'cannot unmarshal <kind> into ...' (bool before number: bool is an int)."""
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


_json_kind = json_kind  # the old private name, for code outside the tree that still imports it


def number_text(v: Any) -> str:
    """The JSON literal a number came from (gojson keeps it on floats), as Go quotes it."""
    text = getattr(v, "text", None)
    if text is not None:
        return text
    return str(v) if isinstance(v, int) else repr(v)


def _type_error(value: Any, gotype: str, ctx: Ctx) -> TypeDecodeError:
    what = json_kind(value)
    if what == "number" and gotype in ("int", "uint"):
        what = "number " + number_text(value)
    if ctx is None:
        return TypeDecodeError(what, gotype)
    return TypeDecodeError(what, gotype, ctx[0], tuple(ctx[1]))


def _go_type(kind: Any) -> str:
    if isinstance(kind, str):
        if kind in (IPNET, CIDR_NET):
            return "types.IPNet"
        return _GO_SCALAR_TYPE.get(kind, "interface {}")
    if kind[0] == "struct":
        return kind[1].gotype
    return kind[2]


class _State:
    """One Go decodeState: the first type error, kept until the end of this decode."""

    __slots__ = ("saved",)

    def __init__(self) -> None:
        self.saved: DecodeError | None = None

    def save(self, err: DecodeError) -> None:
        if self.saved is None:
            self.saved = err


_SKIP = object()  # a type error was saved: the field stays as it was


def decode_value(value: Any, kind: Any, ctx: Ctx) -> Any:
    """Decode one JSON value into `kind`; None means "null: leave unset"."""
    st = _State()
    out = _value(value, kind, ctx, st)
    if st.saved is not None:
        raise st.saved
    return None if out is _SKIP else out


def decode_struct(value: Any, struct: Struct, ctx: Ctx = None) -> dict[str, Any]:
    """Decode a JSON object into {field key: value} for the fields that were set."""
    st = _State()
    out = _value(value, ("struct", struct), ctx, st)
    if st.saved is not None:
        raise st.saved
    return {} if out is _SKIP or out is None else out


def _fresh(value: Any, kind: Any, ctx: Ctx) -> Any:
    """A value of a type with its own UnmarshalJSON: decoded by an inner decoder whose first
    error (type error or not) aborts the outer one."""
    st = _State()
    try:
        out = _value(value, kind, None, st, inner=True)
    except TypeDecodeError as exc:
        raise exc.in_context(ctx) from None
    if st.saved is not None:
        err = st.saved
        raise (err.in_context(ctx) if isinstance(err, TypeDecodeError) else err)
    return out


def _zero(kind: Any, container_gotype: str) -> Any:
    """What a null list element or map value becomes: nil for pointers and reference types, else
    the zero value."""
    if "]*" in container_gotype:
        return None
    if isinstance(kind, str):
        return {STRING: "", INT: 0, UINT: 0, BOOL: False}.get(kind)
    if kind[0] == "struct":
        return {}
    return None


def _value(value: Any, kind: Any, ctx: Ctx, st: _State, inner: bool = False, into: Any = None) -> Any:
    # `into`: what the field already holds when a key repeats; Go decodes into it, so structs and
    # maps merge and slice elements are decoded in place.
    if isinstance(kind, str):
        if kind in (IPNET, CIDR_NET):
            # types.IPNet.UnmarshalJSON: even null reaches it (and fails as an empty CIDR).
            if not inner:
                return _fresh(value, kind, ctx)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise _type_error(value, "string", None)
            try:
                return ipnet.parse_cidr(value)
            except ipnet.CIDRError as exc:
                raise DecodeError(str(exc)) from None
        if value is None:
            return None
        if kind == RAW:
            return value
        if kind == STRING:
            if not isinstance(value, str):
                st.save(_type_error(value, "string", ctx))
                return _SKIP
            return value
        if kind in (INT, UINT):
            if isinstance(value, bool) or not isinstance(value, int) or (kind == UINT and value < 0) \
                    or not -(2**63) <= value < 2**64 or (kind == INT and value >= 2**63):
                st.save(_type_error(value, kind, ctx))
                return _SKIP
            return value
        if kind == BOOL:
            if not isinstance(value, bool):
                st.save(_type_error(value, "bool", ctx))
                return _SKIP
            return value
        if kind == IP:
            # net.IP.UnmarshalText: a non-string is a (saved) type error, bad text stops decoding.
            if not isinstance(value, str):
                st.save(_type_error(value, "net.IP", ctx))
                return _SKIP
            if value == "":
                return None
            ip = ipnet.parse_ip(value)
            if ip is None:
                raise DecodeError(f"invalid IP address: {value}")
            return ip
        if kind == OBJECT:
            if not isinstance(value, dict):
                st.save(_type_error(value, _GO_SCALAR_TYPE[OBJECT], ctx))
                return _SKIP
            if isinstance(into, dict):
                return {**into, **value}
            return value
        raise AssertionError(kind)
    tag = kind[0]
    if tag == "struct":
        struct = kind[1]
        if struct.fresh and not inner:
            if value is None:
                return None
            return _fresh(value, kind, ctx)
        if value is None:
            return None
        if not isinstance(value, dict):
            st.save(_type_error(value, struct.gotype, ctx))
            return _SKIP
        return _struct(value, struct, ctx, st, into if isinstance(into, dict) else None)
    if value is None:
        return None
    if tag == "bytes":
        return _bytes(value, kind[1], ctx, st)
    if tag == "list":
        if not isinstance(value, list):
            st.save(_type_error(value, kind[2], ctx))
            return _SKIP
        out = []
        old = into if isinstance(into, list) else []
        for i, item in enumerate(value):
            if item is None and not (isinstance(kind[1], str) and kind[1] in (IPNET, CIDR_NET)):
                out.append(_zero(kind[1], kind[2]))
                continue
            v = _value(item, kind[1], ctx, st, into=old[i] if i < len(old) else None)
            out.append(_zero(kind[1], kind[2]) if v is _SKIP else v)
        return out
    if tag == "map":
        if not isinstance(value, dict):
            st.save(_type_error(value, kind[2], ctx))
            return _SKIP
        res = dict(into) if isinstance(into, dict) else {}
        for k, v in getattr(value, "pairs", value.items()):
            d = _value(v, kind[1], ctx, st, into=res.get(k))
            res[k] = _zero(kind[1], kind[2]) if d is _SKIP or d is None else d
        return res
    raise AssertionError(kind)


def _struct(value: dict[str, Any], struct: Struct, ctx: Ctx, st: _State,
            into: dict[str, Any] | None = None) -> dict[str, Any]:
    path = ctx[1] if ctx else []
    out: dict[str, Any] = dict(into) if into else {}
    for k, v in getattr(value, "pairs", value.items()):  # every key, repeated ones too, in order
        f = struct.field_for(k)
        if f is None:
            continue
        name, kind, key = f
        decoded = _value(v, kind, (struct.name, path + [name]), st, into=out.get(key))
        if decoded is _SKIP:
            continue
        if decoded is None:
            # null resets a pointer, slice, map, interface or net.IP; anything else stays as it was.
            if v is None and key in out and _null_resets(kind):
                del out[key]
            continue
        out[key] = decoded
    return out


def _null_resets(kind: Any) -> bool:
    if isinstance(kind, str):
        return kind in _NULL_RESETS
    return not (kind[0] == "struct" and len(kind) > 2 and kind[2] == "value")


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _bytes(value: Any, gotype: str, ctx: Ctx, st: _State) -> Any:
    """A Go []byte: a base64 (standard, padded) string or an array of numbers 0..255."""
    if isinstance(value, str):
        try:
            return _b64decode(value)
        except DecodeError as exc:
            st.save(exc)
            return _SKIP
    if isinstance(value, list):
        out = bytearray()
        for item in value:
            if item is None:
                out.append(0)
            elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255:
                out.append(item)
            else:
                what = json_kind(item)
                st.save(_type_error(item, "uint8", ctx) if what != "number" else
                        TypeDecodeError("number " + number_text(item), "uint8",
                                        ctx[0] if ctx else None, tuple(ctx[1]) if ctx else ()))
                out.append(0)
        return bytes(out)
    st.save(_type_error(value, gotype, ctx))
    return _SKIP


def _b64decode(s: str) -> bytes:
    """base64.StdEncoding.Decode: CR and LF are skipped; errors name the offending input byte."""
    out = bytearray()
    acc, n, i, pad_at = 0, 0, 0, -1
    data = s.encode("utf-8", "surrogateescape")
    while i < len(data):
        c = chr(data[i])
        if c in "\r\n":
            i += 1
            continue
        if pad_at >= 0:
            if c != "=" or n == 0:
                raise DecodeError(f"illegal base64 data at input byte {i}")
            n += 1
            if n == 4:
                n = 0
            i += 1
            continue
        if c == "=":
            if n < 2:
                raise DecodeError(f"illegal base64 data at input byte {i}")
            pad_at = i
            n += 1
            if n == 4:
                n = 0
            i += 1
            continue
        v = _B64.find(c)
        if v < 0:
            raise DecodeError(f"illegal base64 data at input byte {i}")
        acc = (acc << 6) | v
        n += 1
        if n == 4:
            out += acc.to_bytes(3, "big")
            acc, n = 0, 0
        i += 1
    if pad_at >= 0:
        if n != 0:
            raise DecodeError(f"illegal base64 data at input byte {len(data)}")
        # the quantum that held the padding: 2 chars -> 1 byte, 3 chars -> 2 bytes
        return bytes(out) + _tail(s, pad_at)
    if n != 0:
        raise DecodeError(f"illegal base64 data at input byte {len(data)}")
    return bytes(out)


def _tail(s: str, pad_at: int) -> bytes:
    chars = [c for c in s[:pad_at] if c not in "\r\n"]
    quantum = chars[len(chars) - len(chars) % 4:]
    acc = 0
    for c in quantum:
        acc = (acc << 6) | _B64.find(c)
    if len(quantum) == 2:
        return bytes([acc >> 4 & 0xFF])
    return (acc >> 2 & 0xFFFF).to_bytes(2, "big")
