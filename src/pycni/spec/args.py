"""CNI_ARGS ("K=V;K=V") parsing with the reference library's rules and error text.

Keys are Go struct field names, matched case-sensitively; `IgnoreUnknown` is always known.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.gofmt import q, q_list

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class ArgsError(ValueError):
    pass


def parse_bool(value: str) -> bool:
    low = value.lower()
    if low in ("1", "true"):
        return True
    if low in ("0", "false"):
        return False
    raise ValueError(f"boolean unmarshal error: invalid input {low}")


def parse_cni_args(args: str, fields: tuple[str, ...], convert: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Parse CNI_ARGS for a plugin whose args struct has `fields` (besides IgnoreUnknown).

    Returns {field: value} for known keys (a later pair overwrites an earlier one). `convert`, when
    given, turns each known value as its pair is read (Go's UnmarshalText runs pair by pair, so a bad
    value fails before any later pair is looked at); its ValueError names the pair.
    """
    if args == "":
        return {}
    out: dict[str, str] = {}
    unknown: list[str] = []
    ignore_unknown = False
    for pair in args.split(";"):
        kv = pair.split("=")
        if len(kv) != 2:
            raise ArgsError(f"ARGS: invalid pair {q(pair)}")
        key, value = kv
        if key == "IgnoreUnknown":
            try:
                ignore_unknown = parse_bool(value)
            except ValueError as exc:
                raise ArgsError(f"ARGS: error parsing value of pair {q(pair)}: {exc}") from None
        elif key == "CommonArgs":
            # The embedded struct is itself a field name that reflection finds.
            raise ArgsError(
                "ARGS: cannot unmarshal into field 'CommonArgs' - type '*types.CommonArgs' "
                "does not implement encoding.TextUnmarshaler"
            )
        elif key in fields:
            if convert is None:
                out[key] = value
            else:
                try:
                    out[key] = convert(value)
                except ValueError as exc:
                    raise ArgsError(f"ARGS: error parsing value of pair {q(pair)}: {exc}") from None
        else:
            unknown.append(pair)
    if unknown and not ignore_unknown:
        raise ArgsError(f"ARGS: unknown args {q_list(unknown)}")
    return out
