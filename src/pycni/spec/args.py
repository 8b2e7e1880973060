"""CNI_ARGS ("K=V;K=V") parsing with the reference library's rules and error text.

Keys are Go struct field names, matched case-sensitively; `IgnoreUnknown` is always known.
Pure: no I/O.
"""

from __future__ import annotations

from pycni.spec.version import go_quote, go_quote_list


class ArgsError(ValueError):
    pass


def parse_bool(value: str) -> bool:
    low = value.lower()
    if low in ("1", "true"):
        return True
    if low in ("0", "false"):
        return False
    raise ValueError(f"boolean unmarshal error: invalid input {low}")


def parse_cni_args(args: str, fields: tuple[str, ...]) -> dict[str, str]:
    """Parse CNI_ARGS for a plugin whose args struct has `fields` (besides IgnoreUnknown).

    Returns {field: value} for known keys (a later pair overwrites an earlier one).
    """
    if args == "":
        return {}
    out: dict[str, str] = {}
    unknown: list[str] = []
    ignore_unknown = False
    for pair in args.split(";"):
        kv = pair.split("=")
        if len(kv) != 2:
            raise ArgsError(f"ARGS: invalid pair {go_quote(pair)}")
        key, value = kv
        if key == "IgnoreUnknown":
            try:
                ignore_unknown = parse_bool(value)
            except ValueError as exc:
                raise ArgsError(f"ARGS: error parsing value of pair {go_quote(pair)}: {exc}") from None
        elif key == "CommonArgs":
            # The embedded struct is itself a field name that reflection finds.
            raise ArgsError(
                "ARGS: cannot unmarshal into field 'CommonArgs' - type '*types.CommonArgs' "
                "does not implement encoding.TextUnmarshaler"
            )
        elif key in fields:
            out[key] = value
        else:
            unknown.append(pair)
    if unknown and not ignore_unknown:
        raise ArgsError(f"ARGS: unknown args {go_quote_list(unknown)}")
    return out
