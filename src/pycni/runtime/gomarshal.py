"""Go's encoding/json as libcni uses it on the runtime side: values decoded into interface{} and
marshalled again (maps with sorted keys, every number a float64, compact text).

`go_any` turns a parsed document into what Go's map[string]interface{} would hold (ints become
floats, so 9007199254740993 becomes 9007199254740992); `marshal` prints it as json.Marshal does.
`Ordered` (a dict printed in insertion order: a Go struct) and `RawJSON` (text already encoded
by a json.Marshaler) cover the few places where libcni marshals typed values. Pure: no I/O.
"""

from __future__ import annotations

from pycni.gofmt import float_text
from pycni.spec import gojson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class MarshalError(ValueError):
    pass


class Ordered(dict):
    """A Go struct value: its keys are printed in insertion order, not sorted."""


class RawJSON(str):
    """JSON text produced by a Go json.Marshaler; printed as it is."""


def go_any(v: Any) -> Any:
    """The value Go's json.Unmarshal into interface{} produces: numbers are float64."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            raise MarshalError(f"json: cannot unmarshal number {v} into Go value of type float64") from None
    if isinstance(v, float):
        return v
    if isinstance(v, dict):
        return {k: go_any(x) for k, x in v.items()}
    if isinstance(v, list):
        return [go_any(x) for x in v]
    return v


def go_float(f: float) -> str:
    """strconv.FormatFloat as encoding/json uses it, with json.Marshal's error for NaN and infinities."""
    if f != f or f in (float("inf"), float("-inf")):
        raise MarshalError(f"json: unsupported value: {'NaN' if f != f else ('+Inf' if f > 0 else '-Inf')}")
    return float_text(f)


def marshal(v: Any) -> str:
    """json.Marshal: compact, map keys sorted, Go's float and string formatting."""
    out: list[str] = []
    _write(v, out)
    return "".join(out)


def _write(v: Any, out: list[str]) -> None:
    if isinstance(v, RawJSON):
        out.append(str(v))
    elif isinstance(v, str) or v is None or isinstance(v, bool):
        out.append(gojson.dumps(v, None))
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(go_float(v))
    elif isinstance(v, dict):
        keys = list(v) if isinstance(v, Ordered) else sorted(v)
        out.append("{")
        for i, k in enumerate(keys):
            if i:
                out.append(",")
            out.append(gojson.dumps(str(k), None))
            out.append(":")
            _write(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise MarshalError(f"json: unsupported type: {type(v).__name__}")


def go_type_name(v: Any) -> str:
    """Go's %T of a value decoded into interface{}."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (int, float)):
        return "float64"
    if isinstance(v, list):
        return "[]interface {}"
    return "map[string]interface {}"
