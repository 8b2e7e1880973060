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
    from collections.abc import Iterator
    from typing import Any


class JSONSyntaxError(ValueError):
    """Malformed JSON text; the message reads like Go's encoding/json."""


def _bad_constant(name: str) -> Any:
    raise _Constant(name)


class _Constant(Exception):
    pass


class GoFloat(float):
    """A JSON number with a fraction or exponent; `text` is its literal, which Go quotes in errors."""

    __slots__ = ("text",)


def _parse_float(s: str) -> GoFloat:
    f = GoFloat(s)
    f.text = s
    return f


class DupKeys(dict):
    """An object that repeated a key: a dict (the last value wins) that also keeps every
    (key, value) pair in document order, which Go's decoder walks one by one."""

    __slots__ = ("pairs",)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        d = DupKeys(d)
        d.pairs = pairs
    return d


class _Ctx:
    # The attribute set _json.make_scanner reads from its context object.
    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(_object)
    parse_float = staticmethod(_parse_float)
    parse_int = int
    parse_constant = staticmethod(_bad_constant)
    memo: dict[str, str] = {}


_scan = _json.make_scanner(_Ctx())
_WS = " \t\n\r"


_CTRL = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def _char_at(s: str, i: int) -> str:
    """Go's quoteChar: the scanner's byte (the first byte of a multi-byte character) as a rune,
    quoted by strconv.Quote, with a single quote escaped."""
    o = ord(s[i])
    if 0xDC80 <= o <= 0xDCFF:  # an undecodable byte (surrogateescape)
        o -= 0xDC00
    elif o >= 0x80:
        o = s[i].encode("utf-8", "surrogatepass")[0]
    if o == 0x27:
        return "\\'"
    if o == 0x5C:
        return "\\\\"
    if o < 0x20 or o == 0x7F:
        return _CTRL.get(o, f"\\x{o:02x}")
    if 0x80 <= o <= 0xA0 or o == 0xAD:
        return f"\\u{o:04x}"
    return chr(o)


def _go_error(s: str, idx: int, what: str, space_at_end: bool = False) -> JSONSyntaxError:
    # At the end of input Go's scanner steps a ' ' through the current state: inside a literal,
    # a number or an escape that is itself the error; elsewhere it is "unexpected end".
    if idx >= len(s):
        if space_at_end:
            return JSONSyntaxError(f"invalid character ' ' {what}")
        return JSONSyntaxError("unexpected end of JSON input")
    return JSONSyntaxError(f"invalid character '{_char_at(s, idx)}' {what}")


_LITERALS = {"t": "true", "f": "false", "n": "null"}
_HEX = "0123456789abcdefABCDEF"


def _value_error(s: str, idx: int) -> JSONSyntaxError:
    """No value starts at idx: Go's scanner names the first byte it could not take."""
    if idx >= len(s):
        return JSONSyntaxError("unexpected end of JSON input")
    c = s[idx]
    lit = _LITERALS.get(c)
    if lit is not None:
        for j in range(1, len(lit)):
            if idx + j >= len(s) or s[idx + j] != lit[j]:
                return _go_error(s, idx + j, f"in literal {lit} (expecting '{lit[j]}')", True)
    if c == "-":
        return _go_error(s, idx + 1, "in numeric literal", True)
    return _go_error(s, idx, "looking for beginning of value")


def _number_tail_error(s: str, pos: int) -> JSONSyntaxError | None:
    """Python stops a number before a '.' or 'e' it cannot use; Go fails on the byte after it."""
    if pos >= len(s) or s[pos] not in ".eE" or pos == 0 or not s[pos - 1].isdigit():
        return None
    start = pos
    while start > 0 and s[start - 1] in "0123456789.eE+-":
        start -= 1
    token = s[start:pos]
    if s[pos] == ".":
        if any(ch in token for ch in ".eE"):
            return None
        return _go_error(s, pos + 1, "after decimal point in numeric literal", True)
    if "e" in token or "E" in token:
        return None
    j = pos + 1 + (pos + 1 < len(s) and s[pos + 1] in "+-")
    return _go_error(s, j, "in exponent of numeric literal", True)


def _unterminated(s: str) -> JSONSyntaxError:
    """The input ended inside a string: maybe inside an escape, which Go reports."""
    tail = s[-6:]
    for k in range(len(tail)):
        if tail[k] == "\\" and (len(s) - len(tail) + k) > 0:
            idx = len(s) - len(tail) + k
            run = 0
            while idx - run - 1 >= 0 and s[idx - run - 1] == "\\":
                run += 1
            if run % 2:
                continue  # this backslash is itself escaped
            rest = s[idx + 1:]
            if rest == "":
                return JSONSyntaxError("invalid character ' ' in string escape code")
            if rest[0] == "u" and len(rest) <= 4 and all(ch in _HEX for ch in rest[1:]):
                return JSONSyntaxError("invalid character ' ' in \\u hexadecimal character escape")
    return JSONSyntaxError("unexpected end of JSON input")


def loads(data: bytes | str) -> Any:
    """Parse one JSON document (surrounding whitespace allowed) or raise JSONSyntaxError."""
    bad_utf8 = False
    if isinstance(data, (bytes, bytearray)):
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:
            # Keep each bad byte (errors name it); in strings it becomes U+FFFD below, as in Go.
            s, bad_utf8 = data.decode("utf-8", "surrogateescape"), True
    else:
        s = data
    try:
        value = _loads(s)
    except RecursionError:
        value = _loads_deep(s)
    if bad_utf8 or "\\ud" in s or "\\uD" in s:
        value = _replace_bad_bytes(value)
    return value


_MAX_DEPTH = 10000  # Go's scanner limit on nested arrays/objects


def _loads_deep(s: str) -> Any:
    """Python's recursion limit stopped the parser; Go accepts up to 10000 levels."""
    import sys

    at = _too_deep_at(s)
    if at >= 0:
        raise _go_error(s, at, "exceeded max depth")
    try:
        import resource
        import threading

        stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
        roomy = threading.current_thread() is threading.main_thread() and (
            stack == resource.RLIM_INFINITY or stack >= 4 << 20)  # ~150 bytes of C stack per level
    except (ImportError, OSError, ValueError):
        roomy = False
    if not roomy:
        raise JSONSyntaxError("nesting too deep for this parser (pycni: raise the stack limit)")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _MAX_DEPTH + 500))
    try:
        return _loads(s)
    finally:
        sys.setrecursionlimit(old)


def _outside_strings(s: str) -> Iterator[tuple[int, str]]:
    """(index, character) of each character of s outside JSON strings (their quotes left out too).

    Only the rare paths (too deep, error positions) scan like this, so a generator is cheap enough.
    """
    in_str = esc = False
    for i, ch in enumerate(s):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        else:
            yield i, ch


def _too_deep_at(s: str) -> int:
    """Where nesting first goes past Go's limit, or -1."""
    depth = 0
    for i, ch in _outside_strings(s):
        if ch in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return i
        elif ch in "]}":
            depth -= 1
    return -1


def _replace_bad_bytes(v: Any) -> Any:
    """Go decodes a byte that is not UTF-8, and a "\\ud800" escape that is not half of a pair, as U+FFFD."""
    if isinstance(v, str):
        if v.isascii():
            return v
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in v)
    if isinstance(v, list):
        return [_replace_bad_bytes(x) for x in v]
    if isinstance(v, dict):
        pairs = [(_replace_bad_bytes(k), _replace_bad_bytes(x)) for k, x in getattr(v, "pairs", v.items())]
        return _object(pairs)
    return v


def _loads(s: str) -> Any:
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
        raise _value_error(s, stop.value) from None
    except _Constant as const:
        at = _find_token(s, const.args[0])
        if const.args[0].startswith("-"):
            raise _go_error(s, at + 1, "in numeric literal") from None
        raise _go_error(s, at, "looking for beginning of value") from None
    except ValueError as exc:  # json.decoder.JSONDecodeError: map its wording onto Go's
        pos = getattr(exc, "pos", n)
        msg = getattr(exc, "msg", str(exc))
        if msg.startswith("Expecting property name"):
            raise _go_error(s, pos, "looking for beginning of object key string") from None
        if msg.startswith("Expecting ':'"):
            raise _go_error(s, pos, "after object key") from None
        if msg.startswith("Expecting ','"):
            where = "after object key:value pair" if _in_object(s, pos) else "after array element"
            raise _number_tail_error(s, pos) or _go_error(s, pos, where) from None
        if msg.startswith("Invalid control character"):
            raise _go_error(s, pos, "in string literal") from None
        if msg.startswith("Unterminated string"):
            raise _unterminated(s) from None
        if msg.startswith("Invalid \\u"):
            # Python points at the "u"; Go names the first character that is not a hex digit
            j = pos + 1
            while j < min(pos + 5, n) and s[j] in _HEX:
                j += 1
            if j == pos + 5:  # a whole escape, then the end of input (Python wants one more byte)
                raise JSONSyntaxError("unexpected end of JSON input") from None
            raise _go_error(s, j, "in \\u hexadecimal character escape", True) from None
        if msg.startswith("Invalid \\escape"):
            # Python points at the backslash, Go at the character after it
            raise _go_error(s, pos + 1, "in string escape code") from None
        raise _value_error(s, pos) from None
    while end < n and s[end] in _WS:
        end += 1
    if end != n:
        raise _number_tail_error(s, end) or _go_error(s, end, "after top-level value")
    return value


def _find_token(s: str, token: str) -> int:
    """Where a NaN/Infinity the C scanner accepted first appears outside a string."""
    for i, _ in _outside_strings(s):
        if s.startswith(token, i):
            return i
    return 0


def _in_object(s: str, pos: int) -> bool:
    """Whether the innermost container open at pos is an object (strings skipped properly)."""
    stack: list[str] = []
    for _, ch in _outside_strings(s[:pos]):
        if ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return bool(stack) and stack[-1] == "{"


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
    if not out.isascii():
        try:
            out.encode("utf-8")
        except UnicodeEncodeError:
            out = _fix_surrogates(out)
    return out


def _fix_surrogates(out: str) -> str:
    # A byte that was not UTF-8 (an environment value, decoded with surrogateescape) is written
    # as Go writes an invalid byte, "\ufffd"; any other lone surrogate (from a "\ud800" escape)
    # became U+FFFD when Go decoded it.
    return "".join(("\\ufffd" if "\udc80" <= c <= "\udcff" else "\ufffd") if "\ud800" <= c <= "\udfff" else c
                   for c in out)


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
        return go_float_text(v)
    raise TypeError(f"cannot encode {type(v).__name__}")


def go_float_text(f: float) -> str:
    """How Go's encoding/json writes a float64: shortest digits, positional unless the magnitude
    is below 1e-6 or at least 1e21, and exponents without a leading zero ("1e-7", "1e+21")."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"json: unsupported value: {f!r}")
    r = repr(f)
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mant, _, exp = r.partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits if sign == '-' else digits.zfill(2)}"
    if "e" not in r:
        return r[:-2] if r.endswith(".0") else r
    mant, _, exp = r.partition("e")
    neg = mant.startswith("-")
    mant = mant.lstrip("-")
    whole, _, frac = mant.partition(".")
    digits, point = whole + frac, len(whole) + int(exp)
    if point <= 0:
        out = "0." + "0" * -point + digits
    elif point >= len(digits):
        out = digits + "0" * (point - len(digits))
    else:
        out = digits[:point] + "." + digits[point:]
    return ("-" if neg else "") + out


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
