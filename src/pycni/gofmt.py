"""Go's texts and formats, in one place: what the reference plugins print, byte for byte.

Error messages are part of the drop-in promise (docs/compatibility.md), so every Go rendering a
plugin needs lives here once: `%q`, `%v` of bools, floats and IPNets, `syscall.Errno` and
`*fs.PathError` text, `log.Printf`, `filepath.Join`/`Clean`, and a tiny `sprintf` for the Go
verbs used in error templates. Pure apart from `log_printf`'s write to stderr: imports only built-in
modules and never touches the kernel or the environment.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # built in; `signal` itself would load enum
import posix
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


# ---------------------------------------------------------------------------------------------
# Strings


_QUOTE_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
              "\\": "\\\\", '"': '\\"'}


def q(s: str) -> str:
    """Go's %q of a string (strconv.Quote): printable runes as they are, the rest escaped; a byte
    that was not UTF-8 (surrogateescape) as \\xHH."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        esc = _QUOTE_ESC.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def q_list(items: Iterable[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(q(i) for i in items) + "]"


def v_list(items: Iterable[object]) -> str:
    """Go's %v of a slice: [a b c]."""
    return "[" + " ".join(str(i) for i in items) + "]"


def bool_text(b: bool) -> str:
    """Go's %v / %t of a bool."""
    return "true" if b else "false"


def sprintf(template: str, *args: object) -> str:
    """Go's fmt.Sprintf for the verbs error templates use: %s and %v (str), %q (q), %d, %t, %%."""
    out: list[str] = []
    it = iter(args)
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        if ch != "%" or i + 1 == n:
            out.append(ch)
            i += 1
            continue
        verb = template[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        arg = next(it)
        if verb == "q":
            out.append(q(str(arg)))
        elif verb == "t" or (verb == "v" and isinstance(arg, bool)):
            out.append(bool_text(bool(arg)))
        else:  # s, v, d
            out.append("<nil>" if arg is None else str(arg))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Numbers and addresses


def float_text(f: float) -> str:
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


def mask_hex(bits: int, plen: int) -> str:
    """A net.IPMask printed with %v: hex digits ("ffffff00")."""
    return (((1 << plen) - 1) << (bits - plen)).to_bytes(bits // 8, "big").hex()


def ipnet_text(ip: str, plen: int) -> str:
    """A net.IPNet value printed with %v: `{10.99.0.0 ffff0000}`."""
    return f"{{{ip} {mask_hex(128 if ':' in ip else 32, plen)}}}"


# ---------------------------------------------------------------------------------------------
# OS errors


def errno_text(err: int | OSError) -> str:
    """syscall.Errno.Error(): the C library's message, first letter lowered when the second is a
    lower-case letter (Go's mkerrors.sh rule: "file exists", but "RFS specific error")."""
    code = err if isinstance(err, int) else (err.errno or 0)
    if not code:
        return str(err)
    text = posix.strerror(code)
    if len(text) > 1 and "A" <= text[0] <= "Z" and "a" <= text[1] <= "z":
        text = text[0].lower() + text[1:]
    return text


def path_error(op: str, path: str, err: int | OSError) -> str:
    """*fs.PathError.Error(): `<op> <path>: <errno text>`."""
    return f"{op} {path}: {errno_text(err)}"


def exit_text(status: int) -> str:
    """*exec.ExitError.Error() for an exit status as Python reports it (negative: killed by that signal):
    `exit status N` or `signal: <name>`, the C library's name with its first letter lowered, as Go's table."""
    if status >= 0:
        return f"exit status {status}"
    name = _signal.strsignal(-status) or f"signal {-status}"
    return f"signal: {name[:1].lower()}{name[1:]}"


# ---------------------------------------------------------------------------------------------
# Paths


def clean_path(p: str) -> str:
    """Go's filepath.Clean: no empty, `.` or `..` elements (a rooted path drops `..` at the root)."""
    if not p:
        return "."
    rooted = p[0] == "/"
    out: list[str] = []
    for part in p.split("/"):
        if not part or part == ".":
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
                continue
            if rooted:
                continue
        out.append(part)
    joined = "/".join(out)
    return "/" + joined if rooted else joined or "."


def join_path(*parts: str) -> str:
    """Go's filepath.Join: the non-empty parts joined with `/`, cleaned (an absolute part does not reset)."""
    kept = [p for p in parts if p]
    return clean_path("/".join(kept)) if kept else ""


# ---------------------------------------------------------------------------------------------
# Logging


def log_line(msg: str, now: float | None = None) -> str:
    """A line of Go's log.Printf with the default flags: local date and time, then the message."""
    stamp = time.strftime("%Y/%m/%d %H:%M:%S ", time.localtime(now))
    return stamp + msg + ("" if msg.endswith("\n") else "\n")


def log_printf(template: str, *args: object) -> None:
    """Go's log.Printf: the line on stderr."""
    sys.stderr.write(log_line(sprintf(template, *args) if args else template))
