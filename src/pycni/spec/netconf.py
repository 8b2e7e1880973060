"""The configuration keys every plugin shares (types.NetConf) and prevResult parsing.

Pure: no I/O. Decoding follows Go's rules (see godecode).
"""

from __future__ import annotations

from pycni.gofmt import float_text
from pycni.spec import result as R
from pycni.spec.godecode import BOOL, OBJECT, STRING, DecodeError, Struct, decode_struct
from pycni.spec.gojson import GoFloat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IPAM = Struct("IPAM", [("type", STRING)], "types.IPAM")
GC_ATTACHMENT = Struct("GCAttachment", [("containerID", STRING), ("ifname", STRING)], "types.GCAttachment")
NETCONF = Struct(
    "PluginConf",
    [
        ("cniVersion", STRING),
        ("name", STRING),
        ("type", STRING),
        ("capabilities", ("map", BOOL, "map[string]bool")),
        ("ipam", ("struct", IPAM, "value")),
        ("dns", ("struct", R.DNS, "value")),
        ("prevResult", OBJECT),
        ("cni.dev/valid-attachments", ("list", ("struct", GC_ATTACHMENT), "[]types.GCAttachment")),
    ],
    "types.PluginConf",
)


def load_netconf(conf: Any) -> dict[str, Any]:
    """types.NetConf decoding; raises DecodeError with Go's text."""
    return decode_struct(conf, NETCONF)


def parse_prev_result(raw: dict[str, Any] | None, conf_version: str) -> R.Result | None:
    """version.ParsePrevResult: None when absent; else the result in the config's family.

    The library injects the config version under "CNIVersion" when the key is missing or "",
    re-marshals the map (sorted keys) and decodes it, so an explicit "cniVersion" still wins.
    Raises R.ResultError("could not parse prevResult: ...").
    """
    if raw is None:
        return None
    work = as_go_any(raw)
    if "CNIVersion" not in work or work["CNIVersion"] == "":
        work["CNIVersion"] = conf_version
    ordered = {k: work[k] for k in sorted(work)}
    try:
        return R.parse(ordered, conf_version)
    except R.ResultError as exc:
        raise R.ResultError(f"could not parse prevResult: {exc}") from None


def as_go_any(v: Any) -> Any:
    """A value as it comes back from Go's map[string]interface{} and json.Marshal: keys sorted at
    every level (which decides which of two bad fields is reported), and every number has been a
    float64 (integers above 2**53 round, 1.0 is written as 1, 1e2 as 100)."""
    if isinstance(v, dict):
        return {k: as_go_any(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [as_go_any(x) for x in v]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            f = float(v)
        except OverflowError:
            f = float("inf") if v > 0 else float("-inf")
        if f.is_integer() and abs(f) < 1e21:
            return int(f)
        g = GoFloat(f)
        g.text = float_text(f) if abs(f) != float("inf") else repr(v)
        return g
    return v


def valid_attachments(conf: Any) -> list[tuple[str, str]] | None:
    """GC's list of attachments to keep: cni.dev/valid-attachments, else cni.dev/attachments.

    None when neither key is present (the caller decides what that means).
    """
    for key in ("cni.dev/valid-attachments", "cni.dev/attachments"):
        if isinstance(conf, dict) and conf.get(key) is not None:
            items = decode_struct({"x": conf[key]}, Struct("", [("x", ("list", ("struct", GC_ATTACHMENT),
                                                                         "[]types.GCAttachment"))]))
            return [(a.get("containerID", ""), a.get("ifname", "")) for a in items.get("x", [])]
    return None


def check_prev_result(conf: Any) -> R.Result:
    """An IPAM plugin's CHECK input (static, cluster-ipam, as upstream's): the config decoded as types.NetConf,
    its prevResult required, parsed in the config's version and converted to 1.1.0. ValueError with the
    reference's texts ("failed to load netconf: …", "Required prevResult missing"), ResultError when unparsable."""
    try:
        n = load_netconf(conf)
    except DecodeError as exc:
        raise ValueError(f"failed to load netconf: {exc}") from None
    prev = parse_prev_result(n.get("prevResult"), n.get("cniVersion", ""))
    if prev is None:
        raise ValueError("Required prevResult missing")
    return R.convert(prev, "1.1.0")
