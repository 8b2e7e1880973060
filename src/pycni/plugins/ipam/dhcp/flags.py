"""Go's `flag` package and `time.ParseDuration`, for `dhcp daemon`'s command line: same syntax, texts, usage.

Accepts `-x v`, `-x=v`, `--x v`, `--x=v`; a bool flag takes no separate value; `--` ends the flags. Pure:
`parse` returns values or raises FlagError/HelpRequested; the caller prints and exits (2 / 0, as Go).
"""

from __future__ import annotations

from pycni.gofmt import q

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BOOL, STRING, DURATION = "bool", "string", "duration"

_UNIT_NS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}
_MAX_NS = (1 << 63) - 1


class FlagError(ValueError):
    """A command-line error, worded as Go's flag package prints it (before the usage)."""


class HelpRequested(Exception):
    """-h / -help / --help: print the usage, exit 0."""


def parse_duration(s: str) -> float:
    """time.ParseDuration, in seconds. Raises ValueError with Go's text."""
    orig = s
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {q(orig)}")
    total = 0  # nanoseconds, exact
    while s:
        i = 0
        while i < len(s) and s[i].isdigit() and s[i].isascii():
            i += 1
        whole = s[:i]
        s = s[i:]
        frac = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isdigit() and s[j].isascii():
                j += 1
            frac = s[:j]
            s = s[j:]
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {q(orig)}")
        j = 0
        while j < len(s) and s[j] != "." and not (s[j].isdigit() and s[j].isascii()):
            j += 1
        unit = s[:j]
        s = s[j:]
        if not unit:
            raise ValueError(f"time: missing unit in duration {q(orig)}")
        if unit not in _UNIT_NS:
            raise ValueError(f"time: unknown unit {q(unit)} in duration {q(orig)}")
        scale = _UNIT_NS[unit]
        v = int(whole or "0") * scale
        if frac:
            v += int(frac) * scale // 10 ** len(frac)
        total += v
        if total > _MAX_NS + (1 if neg else 0):
            raise ValueError(f"time: invalid duration {q(orig)}")
    return (-total if neg else total) / 1e9


def format_duration(seconds: float) -> str:
    """time.Duration.String(): 1m2s, 10s, 1.5s, 300ms, 0s, 1h0m0s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10**9:
        for unit, scale in (("ms", 10**6), ("\u00b5s", 10**3), ("ns", 1)):
            if ns >= scale:
                return sign + _frac(ns, scale) + unit
    out = _frac(ns % (60 * 10**9), 10**9) + "s"
    mins = ns // (60 * 10**9)
    if mins:
        out = f"{mins % 60}m" + out
        if mins >= 60:
            out = f"{mins // 60}h" + out
    return sign + out


def _frac(v: int, scale: int) -> str:
    whole, rest = divmod(v, scale)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def parse_bool(s: str) -> bool:
    """strconv.ParseBool."""
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError("parse error")


class Flag:
    __slots__ = ("default", "kind", "name", "usage")

    def __init__(self, name: str, kind: str, default: Any, usage: str) -> None:
        self.name, self.kind, self.default, self.usage = name, kind, default, usage


def parse(flags: list[Flag], argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """FlagSet.Parse: the values (defaults filled in) and the remaining arguments."""
    by_name = {f.name: f for f in flags}
    values = {f.name: f.default for f in flags}
    i = 0
    while i < len(argv):
        a = argv[i]
        if len(a) < 2 or a[0] != "-":
            break
        dashes = 2 if a[1] == "-" else 1
        if dashes == 2 and len(a) == 2:
            i += 1  # "--" ends the flags
            break
        name = a[dashes:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {a}")
        i += 1
        has_value = "=" in name
        value = ""
        if has_value:
            name, _, value = name.partition("=")
        f = by_name.get(name)
        if f is None:
            if name in ("help", "h"):
                raise HelpRequested()
            raise FlagError(f"flag provided but not defined: -{name}")
        if f.kind == BOOL:
            if has_value:
                try:
                    values[name] = parse_bool(value)
                except ValueError:
                    raise FlagError(f"invalid boolean value {q(value)} for -{name}: parse error") from None
            else:
                values[name] = True
            continue
        if not has_value:
            if i >= len(argv):
                raise FlagError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        if f.kind == DURATION:
            try:
                values[name] = parse_duration(value)
            except ValueError:
                raise FlagError(f"invalid value {q(value)} for flag -{name}: parse error") from None
        else:
            values[name] = value
    return values, argv[i:]


def usage(prog: str, flags: list[Flag]) -> str:
    """flag.PrintDefaults under "Usage of <prog>:", flags sorted by name."""
    lines = [f"Usage of {prog}:"]
    for f in sorted(flags, key=lambda f: f.name):
        head = f"  -{f.name}"
        if f.kind != BOOL:
            head += f" {f.kind}"
        head += "\t" if len(head) <= 4 else "\n    \t"
        text = head + f.usage.replace("\n", "\n    \t")
        if f.kind == STRING and f.default:
            text += f" (default {q(f.default)})"
        elif f.kind == DURATION and f.default:
            text += f" (default {format_duration(f.default)})"
        elif f.kind == BOOL and f.default:
            text += " (default true)"
        lines.append(text)
    return "\n".join(lines) + "\n"
