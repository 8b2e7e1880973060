"""CNI spec versions: the supported list, parsing and comparison with the reference's rules.

Pure: no I/O.
"""

from __future__ import annotations

from pycni.gofmt import q as go_quote  # noqa: F401 - the name older callers import
from pycni.gofmt import q_list as go_quote_list  # noqa: F401

ALL: tuple[str, ...] = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CURRENT = "1.1.0"


class VersionError(ValueError):
    """An unparsable version string (the reference reports it as a decoding failure)."""


def _atoi(part: str, which: str) -> int:
    # Go's strconv.Atoi: optional sign, decimal digits only.
    body = part[1:] if part[:1] in ("+", "-") else part
    if not body or not body.isascii() or not body.isdigit():
        raise VersionError(
            f'failed to convert {which} version part {go_quote(part)}: strconv.Atoi: parsing {go_quote(part)}: '
            "invalid syntax"
        )
    if len(body.lstrip("0")) > 19 or not -(2**63) <= int(part) < 2**63:
        raise VersionError(
            f'failed to convert {which} version part {go_quote(part)}: strconv.Atoi: parsing {go_quote(part)}: '
            "value out of range"
        )
    return int(part)


def parse(version: str) -> tuple[int, int, int]:
    """"" is 0.1.0; "1" and "1.0" are 1.0.0; four or more parts are an error."""
    if version == "":
        return (0, 1, 0)
    parts = version.split(".")
    if len(parts) >= 4:
        raise VersionError(f"invalid version {go_quote(version)}: too many parts")
    major = _atoi(parts[0], "major")
    minor = _atoi(parts[1], "minor") if len(parts) >= 2 else 0
    micro = _atoi(parts[2], "micro") if len(parts) >= 3 else 0
    return (major, minor, micro)


def at_least(version: str, other: str) -> bool:
    return parse(version) >= parse(other)


def check_addresses_per_family(version: str, n4: int, n6: int) -> None:
    """Results before 0.3.0 hold one address per family (an unparsable version counts as older); the
    IPAM plugins (host-local, static) refuse more with this text."""
    if n4 > 1 or n6 > 1:
        try:
            ok = at_least(version, "0.3.0")
        except VersionError:
            ok = False
        if not ok:
            raise ValueError(f"CNI version {version} does not support more than 1 address per family")
