"""JSON in and out the way the reference's Go plugins do it, in pure Python.

No `json` (it pulls in `re`, ~8 ms per exec) and no `_json` either (a shared object to dlopen,
0.25-0.5 ms per exec): a config of a few hundred bytes parses in tens of microseconds here; only
near 5 KB does parsing in Python cost about what loading the extension did.
Reading: strict RFC 8259 (no NaN/Infinity), UTF-8 with bad bytes replaced, Go-worded syntax errors;
any nesting up to Go's limit (no recursion).
Writing: Go's MarshalIndent layout (4 spaces) or compact, with Go's HTML-safe escapes.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.gofmt import float_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class JSONSyntaxError(ValueError):
    """Malformed JSON text; the message reads like Go's encoding/json."""


class GoFloat(float):
    """A JSON number with a fraction or exponent; `text` is its literal, which Go quotes in errors.

    (Also an integer literal too long for int(): Go reads it as an out-of-range float64 too.)"""

    __slots__ = ("text",)
    text: str


class DupKeys(dict):
    """An object that repeated a key: a dict (the last value wins) that also keeps every
    (key, value) pair in document order, which Go's decoder walks one by one."""

    __slots__ = ("pairs",)
    pairs: list[tuple[str, Any]]


def loads(data: bytes | str) -> Any:
    """Parse one JSON document (surrounding whitespace allowed) or raise JSONSyntaxError."""
    bad_utf8 = False
    if isinstance(data, (bytes, bytearray)):
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:
            # Keep each bad byte (errors name it); in strings it becomes U+FFFD, as in Go.
            s, bad_utf8 = data.decode("utf-8", "surrogateescape"), True
    else:
        s = data
        if not s.isascii():
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
                bad_utf8 = True
    try:
        return _parse(s, bad_utf8)
    except _Bad:
        pass
    # Go validates the whole input before decoding and reports the first byte its scanner rejects.
    raise _syntax_error(s)


# ---------------------------------------------------------------------------------------------
# Reading, fast: any input it cannot take, valid or not, goes to _syntax_error for the verdict.
#
# The text is cut at every '"' (one C-level split): the odd pieces are string contents, the
# even ones the "glue" between strings: punctuation, whitespace, numbers, true/false/null. In a
# CNI config most glue is ":" or ","; other glue is tokenized once per distinct piece (with C-level
# str methods). A string piece that ends in an odd number of backslashes ended at an escaped quote:
# it is joined with the next pieces. Objects are filled as dicts; the rare object that repeats a
# key becomes a _DupBuilder, which also records every pair (DupKeys.pairs).

class _Bad(Exception):
    pass


_WS = " \t\n\r"
_NO_WS = {9: None, 10: None, 13: None, 32: None}  # str.translate: drop JSON whitespace
_HEX = "0123456789abcdefABCDEF"
_MAX_DEPTH = 10000  # Go's scanner limit on nested arrays/objects


class _DupBuilder(dict):
    """An object being read that repeated a key: it also keeps every pair from then on."""

    __slots__ = ("pairs",)
    pairs: list[tuple[str, Any]]

    def __setitem__(self, key: str, value: Any) -> None:
        self.pairs.append((key, value))
        dict.__setitem__(self, key, value)


def _dup_keys(b: _DupBuilder) -> DupKeys:
    d = DupKeys(b)
    d.pairs = b.pairs
    return d


def _parse(s: str, bad_utf8: bool) -> Any:
    KEY, KEY_OR_CLOSE, VALUE, VALUE_OR_CLOSE, COLON, NEXT = range(6)  # what comes next (locals: fast)
    parts = s.split('"')
    np = len(parts)
    escapes = "\\" in s
    # Can a string hold a raw control character (an error)? Not if none is anywhere, nor (escaped
    # quotes aside) in the string pieces together.
    controls = not s.isprintable() and (escapes or not "".join(parts[1::2]).isprintable())
    simple = not (escapes or controls or bad_utf8)  # then string pieces are taken as they are
    glue_cache: dict[str, Any] = {}
    root: list[Any] = []
    stack: list[tuple[Any, str | None]] = []
    cont: Any = root  # the open container: a list, or a dict for an object
    key: str | None = None  # the object's current key ("" before the first); None in an array
    want = VALUE
    k = 0
    while True:
        # glue: parts[k]
        g = parts[k]
        if g == ":":
            if want != COLON:
                raise _Bad
            want = VALUE
        elif g == ",":
            if want != NEXT or not stack:
                raise _Bad
            want = VALUE if key is None else KEY
        elif g:
            toks = glue_cache.get(g)
            if toks is None:
                toks = glue_cache[g] = _glue_tokens(g)
            for tok in toks:
                if tok == "}":
                    if key is None or (want != NEXT and want != KEY_OR_CLOSE):
                        raise _Bad
                    v = cont if cont.__class__ is dict else _dup_keys(cont)
                    cont, key = stack.pop()
                    if key is None:
                        cont.append(v)
                    else:
                        cont[key] = v
                    want = NEXT
                elif tok == "{":
                    if (want != VALUE and want != VALUE_OR_CLOSE) or len(stack) >= _MAX_DEPTH:
                        raise _Bad
                    stack.append((cont, key))
                    cont = {}
                    key = ""
                    want = KEY_OR_CLOSE
                elif tok == "|":  # "},{": an object ends and the next one in the same array starts
                    if key is None or (want != NEXT and want != KEY_OR_CLOSE) or len(stack) < 2:
                        raise _Bad
                    parent, pkey = stack[-1]
                    if pkey is not None:
                        raise _Bad
                    parent.append(cont if cont.__class__ is dict else _dup_keys(cont))
                    cont = {}
                    key = ""
                    want = KEY_OR_CLOSE
                elif tok == ",":
                    if want != NEXT or not stack:
                        raise _Bad
                    want = VALUE if key is None else KEY
                elif tok == ":":
                    if want != COLON:
                        raise _Bad
                    want = VALUE
                elif tok == "[":
                    if (want != VALUE and want != VALUE_OR_CLOSE) or len(stack) >= _MAX_DEPTH:
                        raise _Bad
                    stack.append((cont, key))
                    cont = []
                    key = None
                    want = VALUE_OR_CLOSE
                elif tok == "]":
                    if key is not None or (want != NEXT and want != VALUE_OR_CLOSE) or not stack:
                        raise _Bad
                    v = cont
                    cont, key = stack.pop()
                    if key is None:
                        cont.append(v)
                    else:
                        cont[key] = v
                    want = NEXT
                else:  # a number, true, false or null
                    if want != VALUE and want != VALUE_OR_CLOSE:
                        raise _Bad
                    if key is None:
                        cont.append(tok)
                    else:
                        cont[key] = tok
                    want = NEXT
        k += 1
        if k == np:
            if want != NEXT or stack:
                raise _Bad
            return root[0]
        # a string: parts[k], maybe joined with the next pieces
        p = parts[k]
        if not simple:
            if controls and not p.isprintable() and min(p) < " ":
                raise _Bad
            if escapes and "\\" in p:
                while (len(p) - len(p.rstrip("\\"))) & 1:  # an escaped quote: the string goes on
                    k += 1
                    if k == np:
                        raise _Bad
                    q = parts[k]
                    if controls and not q.isprintable() and min(q) < " ":
                        raise _Bad
                    p = p + '"' + q
                p = _unescape(p)
            if bad_utf8 and not p.isascii():  # Go decodes a byte that is not UTF-8 as U+FFFD
                p = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in p)
        if want == KEY or want == KEY_OR_CLOSE:
            if simple:
                # "key":"value" pairs (the commonest thing in a config) straight into the dict
                comma = ","
                while k + 3 < np and p not in cont:
                    g = parts[k + 1]
                    if g != ":" and g != ": " and g.strip(_WS) != ":":  # not a string value
                        break
                    cont[p] = parts[k + 2]
                    k += 3
                    if k + 1 == np:
                        break
                    g = parts[k]
                    if g != comma:
                        if g.strip(_WS) != ",":
                            break
                        comma = g  # how this object's pairs are separated (",\n    ")
                    k += 1
                    p = parts[k]
                if not k & 1:  # stopped at the glue after a value (strings are the odd pieces here)
                    want = NEXT
                    continue
            if p in cont and cont.__class__ is dict:  # a repeated key: keep every pair from here on
                b = _DupBuilder(cont)
                b.pairs = list(cont.items())
                cont = b
            key = p
            want = COLON
        elif want == VALUE or want == VALUE_OR_CLOSE:
            if key is None:
                cont.append(p)
            else:
                cont[key] = p
            want = NEXT
        else:
            raise _Bad
        k += 1
        if k == np:  # no closing quote
            raise _Bad


def _glue_tokens(g: str) -> Any:
    """The tokens between two strings, a sequence of: punctuation characters, "|" for the common
    "},{" (an object ends and the next one in the same array starts), and values."""
    if not g.strip(_PUNCTUATION_WS):  # punctuation and whitespace only: its characters are the tokens
        return g.translate(_NO_WS).replace("},{", "|")
    if not g.isprintable() and not g.translate(_NO_WS).isprintable():
        raise _Bad  # a control character, or whitespace JSON does not know (str.split would)
    toks: list[Any] = []
    for w in g.translate(_SPACED).split():
        if len(w) == 1 and w in "{}[]:,":
            if w == "{" and toks[-2:] == ["}", ","]:
                toks[-2:] = ["|"]
            else:
                toks.append(w)
        else:
            toks.append(_word_value(w))
    return toks


_PUNCTUATION_WS = "{}[]:, \t\n\r"
_SPACED = {ord(c): f" {c} " for c in "{}[]:,"}
_CONSTANTS = {"true": True, "false": False, "null": None}


def _word_value(w: str) -> Any:
    """A number, true, false or null."""
    v = _CONSTANTS.get(w, _Bad)
    if v is not _Bad:
        return v
    m = w[1:] if w[0] == "-" else w
    if m.isdigit() and m.isascii() and (m[0] != "0" or len(m) == 1):
        try:
            return int(w)
        except ValueError:  # more digits than int() takes (sys.get_int_max_str_digits)
            return _go_float(w)
    # -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    mant, e, exp = m.replace("E", "e").partition("e")
    if e:
        if exp[:1] in ("+", "-"):
            exp = exp[1:]
        if not (exp.isdigit() and exp.isascii()):
            raise _Bad
    whole, dot, frac = mant.partition(".")
    if dot and not (frac.isdigit() and frac.isascii()):
        raise _Bad
    if not (whole.isdigit() and whole.isascii()) or (whole[0] == "0" and len(whole) > 1):
        raise _Bad
    return _go_float(w)


def _go_float(text: str) -> GoFloat:
    f = GoFloat(text)
    f.text = text
    return f


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(p: str) -> str:
    """A string's contents with its escapes decoded as Go decodes them."""
    out = []
    i = 0
    while True:
        b = p.find("\\", i)
        if b < 0:
            out.append(p[i:])
            return "".join(out)
        out.append(p[i:b])
        e = p[b + 1:b + 2]
        if e == "u":
            cp = _hex4(p, b + 2)
            i = b + 6
            if 0xD800 <= cp <= 0xDFFF:
                # Go: half of a surrogate pair only with the other half right after it; else U+FFFD
                low = _hex4(p, i + 2) if cp < 0xDC00 and p.startswith("\\u", i) else -1
                if 0xDC00 <= low <= 0xDFFF:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                else:
                    cp = 0xFFFD
            out.append(chr(cp))
        else:
            r = _ESCAPES.get(e)
            if r is None:
                raise _Bad
            out.append(r)
            i = b + 2


def _hex4(p: str, i: int) -> int:
    h = p[i:i + 4]
    if len(h) != 4 or not all(c in _HEX for c in h):
        raise _Bad
    return int(h, 16)


# ---------------------------------------------------------------------------------------------
# Reading, errors: Go's scanner, byte by byte (a bad byte is one surrogateescape character)

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


# scanner states (Go's step functions)
(_VALUE, _VALUE_OR_CLOSE, _KEY, _KEY_OR_CLOSE, _END_VALUE, _END_TOP, _STR, _ESC, _U1, _U2, _U3, _U4,
 _NEG, _INT, _ZERO, _DOT, _FRAC, _EXP, _EXP_SIGN, _EXP_DIGITS, _LIT) = range(21)
# what an open container waits for
_OBJ_KEY, _OBJ_VALUE, _ARR_VALUE = range(3)
_LITERAL_START = {"t": "true", "f": "false", "n": "null"}


def _syntax_error(s: str) -> JSONSyntaxError:
    """Run Go's scanner (encoding/json checkValid) over s: the error for the first byte it rejects,
    or at the end, where Go steps a space through the scanner (inside a literal, a number or an
    escape that space is the error; elsewhere the input just ended too soon)."""
    n = len(s)
    stack: list[int] = []
    st = _VALUE
    lit, k = "", 0
    i = 0
    while i <= n:
        c = s[i] if i < n else " "
        what = None
        while True:  # some states hand the character on to the next one
            if st == _STR:
                if c == '"':
                    st = _END_VALUE
                elif c == "\\":
                    st = _ESC
                elif c < " ":
                    what = "in string literal"
                elif i < n:  # skip to the next quote, backslash or control character
                    j = i + 1
                    while j < n and s[j] not in '"\\' and s[j] >= " ":
                        j += 1
                    i = j - 1
                break
            if c in _WS and (st <= _KEY_OR_CLOSE or st == _END_TOP or st == _END_VALUE and stack):
                break  # whitespace between tokens
            if st == _VALUE_OR_CLOSE:
                if c == "]":
                    st = _END_VALUE
                    continue
                st = _VALUE
            elif st == _KEY_OR_CLOSE:
                if c == "}":
                    stack[-1] = _OBJ_VALUE
                    st = _END_VALUE
                    continue
                st = _KEY
            if st == _VALUE:
                if c == "{" or c == "[":
                    stack.append(_OBJ_KEY if c == "{" else _ARR_VALUE)
                    st = _KEY_OR_CLOSE if c == "{" else _VALUE_OR_CLOSE
                    if len(stack) > _MAX_DEPTH:
                        what = "exceeded max depth"
                elif c == '"':
                    st = _STR
                elif c == "-":
                    st = _NEG
                elif c == "0":
                    st = _ZERO
                elif "1" <= c <= "9":
                    st = _INT
                elif c in _LITERAL_START:
                    st, lit, k = _LIT, _LITERAL_START[c], 1
                else:
                    what = "looking for beginning of value"
            elif st == _KEY:
                if c == '"':
                    st = _STR
                else:
                    what = "looking for beginning of object key string"
            elif st == _END_VALUE:
                if not stack:
                    st = _END_TOP
                    continue
                top = stack[-1]
                if top == _OBJ_KEY:
                    if c == ":":
                        stack[-1] = _OBJ_VALUE
                        st = _VALUE
                    else:
                        what = "after object key"
                elif c == ",":
                    if top == _OBJ_VALUE:
                        stack[-1] = _OBJ_KEY
                        st = _KEY
                    else:
                        st = _VALUE
                elif c == ("}" if top == _OBJ_VALUE else "]"):
                    stack.pop()
                    st = _END_VALUE if stack else _END_TOP
                else:
                    what = "after object key:value pair" if top == _OBJ_VALUE else "after array element"
            elif st == _END_TOP:
                if c not in _WS:
                    what = "after top-level value"
            elif st == _ESC:
                if c in 'bfnrt\\/"':
                    st = _STR
                elif c == "u":
                    st = _U1
                else:
                    what = "in string escape code"
            elif _U1 <= st <= _U4:
                if c in _HEX:
                    st = _STR if st == _U4 else st + 1
                else:
                    what = "in \\u hexadecimal character escape"
            elif st == _NEG:
                if c == "0":
                    st = _ZERO
                elif "1" <= c <= "9":
                    st = _INT
                else:
                    what = "in numeric literal"
            elif st == _INT or st == _ZERO:
                if st == _INT and "0" <= c <= "9":
                    break
                if c == ".":
                    st = _DOT
                elif c == "e" or c == "E":
                    st = _EXP
                else:
                    st = _END_VALUE
                    continue
            elif st == _DOT:
                if "0" <= c <= "9":
                    st = _FRAC
                else:
                    what = "after decimal point in numeric literal"
            elif st == _FRAC:
                if "0" <= c <= "9":
                    break
                if c == "e" or c == "E":
                    st = _EXP
                else:
                    st = _END_VALUE
                    continue
            elif st == _EXP:
                st = _EXP_SIGN
                if c == "+" or c == "-":
                    break
                continue
            elif st == _EXP_SIGN:
                if "0" <= c <= "9":
                    st = _EXP_DIGITS
                else:
                    what = "in exponent of numeric literal"
            elif st == _EXP_DIGITS:
                if "0" <= c <= "9":
                    break
                st = _END_VALUE
                continue
            elif st == _LIT:
                if c == lit[k]:
                    k += 1
                    if k == len(lit):
                        st = _END_VALUE
                else:
                    what = f"in literal {lit} (expecting '{lit[k]}')"
            break
        if what is not None:
            return JSONSyntaxError(f"invalid character '{_char_at(s, i) if i < n else ' '}' {what}")
        if i == n:
            break
        i += 1
    if st == _END_TOP:  # Go accepts it (a bug in _parse if it did not)
        raise AssertionError(f"gojson: the parser refused JSON that Go's scanner accepts: {s[:200]!r}")
    return JSONSyntaxError("unexpected end of JSON input")


# ---------------------------------------------------------------------------------------------
# Writing

# Go's string escapes: HTML-significant characters and the JS line separators as \u escapes,
# \b and \f as \u0008 and \u000c, other controls as lowercase \u00XX.
_ESCAPE_TABLE = {c: f"\\u{c:04x}" for c in (*range(0x20), 0x3C, 0x3E, 0x26, 0x2028, 0x2029)}
_ESCAPE_TABLE.update({0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def _go_str(s: str) -> str:
    out = s.translate(_ESCAPE_TABLE)
    if not out.isascii():
        try:
            out.encode("utf-8")
        except UnicodeEncodeError:
            out = _fix_surrogates(out)
    return '"' + out + '"'


def _fix_surrogates(out: str) -> str:
    # A byte that was not UTF-8 (an environment value, decoded with surrogateescape) is written
    # as Go writes an invalid byte, "\ufffd"; any other lone surrogate (from a "\ud800" escape)
    # became U+FFFD when Go decoded it.
    return "".join(("\\ufffd" if "\udc80" <= c <= "\udcff" else "\ufffd") if "\ud800" <= c <= "\udfff" else c
                   for c in out)


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
        return float_text(v)
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
