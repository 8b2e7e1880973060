"""CNI spec versions: the supported list, parsing and comparison with the reference's rules.

Pure: no I/O.
"""

from __future__ import annotations

ALL: tuple[str, ...] = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CURRENT = "1.1.0"


class VersionError(ValueError):
    """An unparsable version string (the reference reports it as a decoding failure)."""


def _atoi(part: str, which: str) -> int:
    # Go's strconv.Atoi: optional sign, decimal digits only.
    body = part[1:] if part[:1] in ("+", "-") else part
    if not body or not body.isascii() or not body.isdigit():
        raise VersionError(
            f'failed to convert {which} version part "{part}": strconv.Atoi: parsing "{part}": invalid syntax'
        )
    return int(part)


def parse(version: str) -> tuple[int, int, int]:
    """"" is 0.1.0; "1" and "1.0" are 1.0.0; four or more parts are an error."""
    if version == "":
        return (0, 1, 0)
    parts = version.split(".")
    if len(parts) >= 4:
        raise VersionError(f'invalid version "{version}": too many parts')
    major = _atoi(parts[0], "major")
    minor = _atoi(parts[1], "minor") if len(parts) >= 2 else 0
    micro = _atoi(parts[2], "micro") if len(parts) >= 3 else 0
    return (major, minor, micro)


def at_least(version: str, other: str) -> bool:
    return parse(version) >= parse(other)


def go_quote_list(items: tuple[str, ...] | list[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_quote(s: str) -> str:
    """Go's %q of a string (close enough for the printable text CNI deals in)."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
