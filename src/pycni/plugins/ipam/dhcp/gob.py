"""Go's encoding/gob, as much as the dhcp exec <-> daemon RPC needs: pure bytes in, bytes out.

Encoding covers bool/int/uint/bytes/string, structs and slices described by `Struct`/`Slice` (type
definitions sent once per stream, pre-order, ids from 65 as Go assigns them). Decoding is generic: any
stream of definitions and values becomes dicts (by field name), lists, ints, bytes and strs; maps, arrays,
floats and GobEncoder values are decoded too, so unknown fields are skipped safely. No I/O here.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Builtin type ids (encoding/gob/type.go).
BOOL, INT, UINT, FLOAT, BYTES, STRING, COMPLEX, INTERFACE = 1, 2, 3, 4, 5, 6, 7, 8
FIRST_USER_ID = 65


class GobError(ValueError):
    pass


class Struct:
    """A Go struct type to encode: its name on the wire and its exported fields in order."""

    __slots__ = ("fields", "name")

    def __init__(self, name: str, fields: list[tuple[str, GobType]]) -> None:
        self.name = name
        self.fields = fields


class Slice:
    """A Go slice type to encode ([]byte is BYTES, not this)."""

    __slots__ = ("elem", "name")

    def __init__(self, name: str, elem: GobType) -> None:
        self.name = name
        self.elem = elem


if TYPE_CHECKING:
    GobType = int | Struct | Slice


# ---------------------------------------------------------------------------------------------
# Primitive encoding


def put_uint(out: bytearray, v: int) -> None:
    if v < 0x80:
        out.append(v)
        return
    b = v.to_bytes((v.bit_length() + 7) // 8, "big")
    out.append(256 - len(b))
    out += b


def put_int(out: bytearray, i: int) -> None:
    put_uint(out, (~i << 1) | 1 if i < 0 else i << 1)


def put_bytes(out: bytearray, b: bytes) -> None:
    put_uint(out, len(b))
    out += b


def put_string(out: bytearray, s: str) -> None:
    put_bytes(out, s.encode("utf-8", "surrogateescape"))


def _is_zero(t: GobType, v: Any) -> bool:
    if isinstance(t, Struct):
        return False  # a nested struct is always sent
    return not v


def _put_value(out: bytearray, t: GobType, v: Any, ids: dict[int, int]) -> None:
    if t == BOOL:
        put_uint(out, 1 if v else 0)
    elif t == INT:
        put_int(out, int(v))
    elif t == UINT:
        if v < 0:
            raise GobError(f"gob: negative value {v} for uint")
        put_uint(out, int(v))
    elif t == BYTES:
        put_bytes(out, bytes(v))
    elif t == STRING:
        put_string(out, v)
    elif isinstance(t, Struct):
        _put_struct(out, t, v or {}, ids)
    elif isinstance(t, Slice):
        put_uint(out, len(v))
        for e in v:
            _put_value(out, t.elem, e, ids)
    else:
        raise GobError(f"gob: cannot encode type {t!r}")


def _put_struct(out: bytearray, t: Struct, v: dict[str, Any], ids: dict[int, int]) -> None:
    last = -1
    for n, (name, ft) in enumerate(t.fields):
        fv = v.get(name)
        if fv is None or _is_zero(ft, fv):
            continue
        put_uint(out, n - last)
        last = n
        _put_value(out, ft, fv, ids)
    out.append(0)


class Encoder:
    """One direction of one connection: remembers which types it has already defined."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}  # id(type object) -> wire id
        self._keep: list[GobType] = []  # keep the type objects alive so id() stays unique
        self._next = FIRST_USER_ID

    def _assign(self, t: GobType) -> int:
        """Go's order: a struct gets its id before its fields, a slice after its element."""
        if isinstance(t, int):
            return t
        got = self._ids.get(id(t))
        if got is not None:
            return got
        if isinstance(t, Struct):
            tid = self._ids[id(t)] = self._next
            self._next += 1
            self._keep.append(t)
            for _, ft in t.fields:
                self._assign(ft)
            return tid
        self._assign(t.elem)
        tid = self._ids[id(t)] = self._next
        self._next += 1
        self._keep.append(t)
        return tid

    def _definitions(self, t: GobType, out: bytearray, sent: set[int]) -> None:
        """Type definition messages, pre-order (the type, then its components), each once."""
        if isinstance(t, int) or self._ids[id(t)] in sent:
            return
        tid = self._ids[id(t)]
        sent.add(tid)
        body = bytearray()
        put_int(body, -tid)
        if isinstance(t, Struct):
            body += b"\x03\x01"  # wireType.StructT (field 2), structType.CommonType (field 0)
            _put_common(body, t.name, tid)
            if t.fields:
                body.append(1)  # structType.Field
                put_uint(body, len(t.fields))
                for name, ft in t.fields:
                    body.append(1)
                    put_string(body, name)
                    body.append(1)
                    put_int(body, self._ids[id(ft)] if not isinstance(ft, int) else ft)
                    body.append(0)
            body += b"\x00\x00"  # end structType, end wireType
        else:
            body += b"\x02\x01"  # wireType.SliceT (field 1), sliceType.CommonType
            _put_common(body, t.name, tid)
            body.append(1)  # sliceType.Elem
            put_int(body, self._ids[id(t.elem)] if not isinstance(t.elem, int) else t.elem)
            body += b"\x00\x00"
        put_uint(out, len(body))
        out += body
        if isinstance(t, Struct):
            for _, ft in t.fields:
                self._definitions(ft, out, sent)
        else:
            self._definitions(t.elem, out, sent)

    def encode(self, t: GobType, value: Any) -> bytes:
        """The messages for `value` of type `t`: definitions of types not yet sent, then the value."""
        out = bytearray()
        if not isinstance(t, int) and id(t) not in self._ids:
            before = set(self._ids.values())
            tid = self._assign(t)
            self._definitions(t, out, before)
        else:
            tid = t if isinstance(t, int) else self._ids[id(t)]
        body = bytearray()
        put_int(body, tid)
        if not isinstance(t, Struct):
            body.append(0)  # a top-level non-struct value is sent as field 0 of a singleton
        _put_value(body, t, value, self._ids)
        put_uint(out, len(body))
        out += body
        return bytes(out)


def _put_common(body: bytearray, name: str, tid: int) -> None:
    if name:
        body.append(1)
        put_string(body, name)
        body.append(1)
    else:
        body.append(2)  # Name omitted: delta 2 to Id
    put_int(body, tid)
    body.append(0)


# ---------------------------------------------------------------------------------------------
# Decoding


class Reader:
    """A cursor over one message's bytes."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def uint(self) -> int:
        buf, pos = self.buf, self.pos
        if pos >= len(buf):
            raise GobError("gob: unexpected EOF")
        b = buf[pos]
        if b < 0x80:
            self.pos = pos + 1
            return b
        n = 256 - b
        if n > 8 or pos + 1 + n > len(buf):
            raise GobError("gob: bad uint encoding")
        self.pos = pos + 1 + n
        return int.from_bytes(buf[pos + 1 : pos + 1 + n], "big")

    def int(self) -> int:
        u = self.uint()
        return ~(u >> 1) if u & 1 else u >> 1

    def bytes(self) -> bytes:
        n = self.uint()
        end = self.pos + n
        if end > len(self.buf):
            raise GobError("gob: unexpected EOF in bytes")
        b = self.buf[self.pos : end]
        self.pos = end
        return bytes(b)

    def string(self) -> str:
        return self.bytes().decode("utf-8", "surrogateescape")


def read_uint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """A uint at `pos` when it is complete: (value, next position), else None (needs more bytes)."""
    if pos >= len(buf):
        return None
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    n = 256 - b
    if n > 8:
        raise GobError("gob: bad message length")
    if pos + 1 + n > len(buf):
        return None
    return int.from_bytes(buf[pos + 1 : pos + 1 + n], "big"), pos + 1 + n


# A decoded wire type: ("struct", name, [(field, id)]), ("slice", name, elem), ("array", name, elem, len),
# ("map", name, key, elem), ("opaque", name) for GobEncoder / BinaryMarshaler / TextMarshaler values.
WireType = tuple


def _common(r: Reader) -> tuple[str, int]:
    name, tid, field = "", 0, -1
    while True:
        d = r.uint()
        if d == 0:
            return name, tid
        field += d
        if field == 0:
            name = r.string()
        elif field == 1:
            tid = r.int()
        else:
            raise GobError("gob: bad CommonType")


def _wire_type(r: Reader) -> WireType:
    field = -1
    wt: WireType | None = None
    while True:
        d = r.uint()
        if d == 0:
            break
        field += d
        wt = _component(r, field)
    if wt is None:
        raise GobError("gob: empty type definition")
    return wt


def _component(r: Reader, kind: int) -> WireType:
    name, field = "", -1
    fields: list[tuple[str, int]] = []
    elem = key = length = 0
    while True:
        d = r.uint()
        if d == 0:
            break
        field += d
        if field == 0:
            name, _ = _common(r)
        elif kind == 2 and field == 1:  # structType.Field []fieldType
            for _ in range(r.uint()):
                fname, fid, ff = "", 0, -1
                while True:
                    fd = r.uint()
                    if fd == 0:
                        break
                    ff += fd
                    if ff == 0:
                        fname = r.string()
                    elif ff == 1:
                        fid = r.int()
                    else:
                        raise GobError("gob: bad fieldType")
                fields.append((fname, fid))
        elif kind in (0, 1) and field == 1:  # arrayType/sliceType.Elem
            elem = r.int()
        elif kind == 0 and field == 2:
            length = r.int()
        elif kind == 3 and field == 1:
            key = r.int()
        elif kind == 3 and field == 2:
            elem = r.int()
        else:
            raise GobError("gob: bad type definition")
    if kind == 2:
        return ("struct", name, fields)
    if kind == 1:
        return ("slice", name, elem)
    if kind == 0:
        return ("array", name, elem, length)
    if kind == 3:
        return ("map", name, key, elem)
    if kind in (4, 5, 6):
        return ("opaque", name)
    raise GobError(f"gob: unknown wireType field {kind}")


class Decoder:
    """One direction of one connection: the type table grows as definitions arrive."""

    def __init__(self) -> None:
        self.types: dict[int, WireType] = {}

    def message(self, body: bytes) -> tuple[int, Any] | None:
        """One message (without its length prefix): None for a type definition, else (type id, value)."""
        r = Reader(body)
        tid = r.int()
        if tid < 0:
            self.types[-tid] = _wire_type(r)
            return None
        wt = self.types.get(tid)
        if wt is None and tid >= FIRST_USER_ID:
            raise GobError(f"gob: unknown type id {tid}")
        if (wt is None or wt[0] != "struct") and r.uint() != 0:
            raise GobError("gob: bad singleton value")
        return tid, self._value(r, tid)

    def _value(self, r: Reader, tid: int) -> Any:
        if tid in (BOOL, UINT):
            v = r.uint()
            return bool(v) if tid == BOOL else v
        if tid == INT:
            return r.int()
        if tid == BYTES:
            return r.bytes()
        if tid == STRING:
            return r.string()
        if tid == FLOAT:
            return _float(r.uint())
        if tid == COMPLEX:
            return complex(_float(r.uint()), _float(r.uint()))
        if tid == INTERFACE:
            raise GobError("gob: interface values are not supported")
        wt = self.types.get(tid)
        if wt is None:
            raise GobError(f"gob: unknown type id {tid}")
        kind = wt[0]
        if kind == "struct":
            out: dict[str, Any] = {}
            fields = wt[2]
            field = -1
            while True:
                d = r.uint()
                if d == 0:
                    return out
                field += d
                if field >= len(fields):
                    raise GobError("gob: field number out of range")
                name, ftid = fields[field]
                out[name] = self._value(r, ftid)
        if kind == "slice":
            return [self._value(r, wt[2]) for _ in range(r.uint())]
        if kind == "array":
            return [self._value(r, wt[2]) for _ in range(r.uint())]
        if kind == "map":
            n = r.uint()
            m: dict[Any, Any] = {}
            for _ in range(n):
                k = self._value(r, wt[2])
                m[k if not isinstance(k, (dict, list)) else repr(k)] = self._value(r, wt[3])
            return m
        return r.bytes()  # opaque: GobEncoder and friends travel as bytes


def _float(u: int) -> float:
    import struct  # lazy: floats never occur in this protocol; decoded only to skip them

    return float(struct.unpack("<d", u.to_bytes(8, "big"))[0])
