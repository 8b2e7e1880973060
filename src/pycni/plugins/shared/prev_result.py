"""prevResult for the plugins: parsed in the config's version, converted to 1.1.0, and the container interface.

Pure: no I/O; errors are ValueErrors carrying upstream's texts (code 999 at skel).
"""

from __future__ import annotations

from pycni.spec import result as R
from pycni.spec.netconf import parse_prev_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Interface, Result

PREV_PARSE_TEXT = "could not parse prevResult"
PREV_CONVERT_TEXT = "could not convert result to current version"


def load_prev_result(conf: dict[str, Any], *, inject_version: bool = True, parse_text: str = PREV_PARSE_TEXT,
                     convert_text: str = PREV_CONVERT_TEXT) -> tuple[Any, Any]:
    """(prevResult parsed in the config's version, the same converted to 1.1.0), (None, None) without one.
    Parsed as version.ParsePrevResult does (the config's version injected), or without `inject_version` as
    a plain result; errors become ValueError("<parse_text>: ...") / ValueError("<convert_text>: ...")."""
    if conf.get("prevResult") is None:
        return None, None
    parse = parse_prev_result if inject_version else R.parse
    try:
        prev = parse(conf["prevResult"], conf.get("cniVersion", ""))
    except R.ResultError as exc:
        raise ValueError(f"{parse_text}: {exc}") from None
    try:
        return prev, R.convert(prev, "1.1.0")  # type: ignore[arg-type]
    except R.ResultError as exc:
        raise ValueError(f"{convert_text}: {exc}") from None


def without_prev_result(conf: Any) -> Any:
    """The config without prevResult (any key case: Go matches it so), for a DEL that does not need it: DEL must
    succeed whatever prevResult holds, or a runtime can never finish the teardown (ADD refused such a one)."""
    if not isinstance(conf, dict):
        return conf
    return {k: v for k, v in conf.items() if k.lower() != "prevresult"}


def usable_prev_result(conf: Any, **kw: Any) -> Any:
    """The config as it is when its prevResult loads (load_prev_result's keywords), else without it: for a DEL
    that uses prevResult where it can and must not fail on one it cannot read."""
    # not an object at all: the config decoder's own type error, as in ADD
    if isinstance(conf, dict) and isinstance(conf.get("prevResult"), dict):
        try:
            load_prev_result(conf, **kw)
        except ValueError:
            return without_prev_result(conf)
    return conf


def required_prev_result(conf: dict[str, Any], missing: str) -> Result:
    """CHECK's prevResult: parsed in the config's version and converted to 1.1.0; ValueError(missing) when
    absent, the parse/convert error's own text otherwise."""
    prev = parse_prev_result(conf.get("prevResult"), conf.get("cniVersion", ""))
    if prev is None:
        raise ValueError(missing)
    return R.convert(prev, "1.1.0")


def container_iface(result: Result, args: CmdArgs, sandbox_text: str) -> Interface:
    """The prevResult interface named CNI_IFNAME in CNI_NETNS; ValueError(sandbox_text % (found, netns)) if none."""
    cont: Interface = {}
    for intf in result.get("interfaces") or []:
        if intf.get("name") == args.ifname and intf.get("sandbox", "") == args.netns:
            cont = intf
    if cont.get("sandbox", "") != args.netns:
        raise ValueError(sandbox_text % (cont.get("sandbox", ""), args.netns))
    return cont
