"""JSON in and out the way the reference's Go plugins do it, without importing `json`.

`json` pulls in `re` (~8 ms per exec); the C scanner and string encoder in `_json` need neither.
Reading: strict RFC 8259 (no NaN/Infinity), UTF-8 with bad bytes replaced, Go-worded syntax errors.
Writing: Go's MarshalIndent layout (4 spaces) or compact, with Go's HTML-safe escapes.
Pure: no I/O.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class JSONSyntaxError(ValueError):
    """Malformed JSON text; the message reads like Go's encoding/json."""


def _bad_constant(name: str) -> Any:
    raise _Constant(name)


class _Constant(Exception):
    pass


class _Ctx:
    # The attribute set _json.make_scanner reads from its context object.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_bad_constant)
    memo: dict[str, str] = {}


_scan = _json.make_scanner(_Ctx())
_WS = " \t\n\r"


def _char_at(s: str, i: int) -> str:
    return repr(s[i])[1:-1] if s[i] != "'" else "\\''"


def _go_error(s: str, idx: int, what: str) -> JSONSyntaxError:
    if idx >= len(s):
        return JSONSyntaxError("unexpected end of JSON input")
    return JSONSyntaxError(f"invalid character '{_char_at(s, idx)}' {what}")


def loads(data: bytes | str) -> Any:
    """Parse one JSON document (surrounding whitespace allowed) or raise JSONSyntaxError."""
    s = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
    i, n = 0, len(s)
    while i < n and s[i] in _WS:
        i += 1
    try:
        try:
            value, end = _scan(s, i)
        except SystemError:
            # The C scanner reports errors through json.decoder.JSONDecodeError, which it only
            # finds if json.decoder is already imported; import it on this (rare) path and retry.
            import json.decoder  # noqa: F401

            value, end = _scan(s, i)
    except StopIteration as stop:
        raise _go_error(s, stop.value, "looking for beginning of value") from None
    except _Constant:
        raise _go_error(s, i, "looking for beginning of value") from None
    except ValueError as exc:  # json.decoder.JSONDecodeError: map its wording onto Go's
        pos = getattr(exc, "pos", n)
        msg = getattr(exc, "msg", str(exc))
        if msg.startswith("Expecting property name"):
            raise _go_error(s, pos, "looking for beginning of object key string") from None
        if msg.startswith("Expecting ':'"):
            raise _go_error(s, pos, "after object key") from None
        if msg.startswith("Expecting ','"):
            raise _go_error(s, pos, "after object key:value pair" if _in_object(s, pos) else "after array element") from None
        if msg.startswith("Invalid control character"):
            raise _go_error(s, pos, "in string literal") from None
        if msg.startswith("Unterminated string"):
            raise JSONSyntaxError("unexpected end of JSON input") from None
        if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\u"):
            raise _go_error(s, pos, "in string escape code") from None
        raise _go_error(s, pos, "looking for beginning of value") from None
    while end < n and s[end] in _WS:
        end += 1
    if end != n:
        raise _go_error(s, end, "after top-level value")
    return value


def _in_object(s: str, pos: int) -> bool:
    # Which container is open at pos: scan back over balanced brackets, ignoring strings roughly.
    depth = 0
    for ch in reversed(s[:pos]):
        if ch in "]}":
            depth += 1
        elif ch in "[{":
            if depth == 0:
                return ch == "{"
            depth -= 1
    return False


# ---------------------------------------------------------------------------------------------
# Writing

_encode_str = _json.encode_basestring  # type: ignore[attr-defined]


def _go_str(s: str) -> str:
    out = _encode_str(s)
    # Go escapes HTML-significant characters and the JS line separators; \b and \f as \u00XX.
    if "<" in out or ">" in out or "&" in out:
        out = out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if "\u2028" in out or "\u2029" in out:
        out = out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if "\\b" in out or "\\f" in out:
        out = _fix_bf(out)
    return out


def _fix_bf(out: str) -> str:
    res, i = [], 0
    while i < len(out):
        c = out[i]
        if c == "\\" and i + 1 < len(out):
            nxt = out[i + 1]
            res.append("\\u0008" if nxt == "b" else "\\u000c" if nxt == "f" else c + nxt)
            i += 2
            continue
        res.append(c)
        i += 1
    return "".join(res)


def _scalar(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return _go_str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    raise TypeError(f"cannot encode {type(v).__name__}")


def dumps(obj: Any, indent: int | None = 4) -> str:
    """Go's json.MarshalIndent(obj, "", "    ") (indent=4) or json.Marshal (indent=None)."""
    parts: list[str] = []
    _write(obj, parts, "" if indent is None else "\n", " " * (indent or 0), indent is not None)
    return "".join(parts)


def _write(v: Any, out: list[str], nl: str, step: str, pretty: bool) -> None:
    if isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        inner = nl + step
        out.append("{")
        first = True
        for k, item in v.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(_go_str(k))
            out.append(": " if pretty else ":")
            _write(item, out, inner, step, pretty)
        out.append(nl + "}")
    elif isinstance(v, (list, tuple)):
        if not v:
            out.append("[]")
            return
        inner = nl + step
        out.append("[")
        for i, item in enumerate(v):
            out.append(inner if i == 0 else "," + inner)
            _write(item, out, inner, step, pretty)
        out.append(nl + "]")
    else:
        out.append(_scalar(v))
