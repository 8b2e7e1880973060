"""tuning's configuration: TuningConf with every override, the duplicate-key check, the allow-list, sysctl paths.

Pure apart from reading the allow-list file; never touches the kernel. Every message is upstream's.
"""

from __future__ import annotations

from pycni.gofmt import errno_text, join_path, q
from pycni.plugins.shared.conf import decode_conf, runtime_mac_field
from pycni.plugins.shared.mac import mac_override
from pycni.spec import gojson
from pycni.spec.godecode import BOOL, INT, STRING, Struct, json_kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs

DEFAULT_DATA_DIR = "/run/cni/tuning"
ALLOWLIST_FILE = "/etc/cni/tuning/allowlist.conf"

_IPAM_ARGS = Struct("IPAMArgs", [
    ("sysctl", ("map", STRING, "map[string]string")),
    ("mac", STRING),
    ("promisc", BOOL),
    ("mtu", INT),
    ("allmulti", BOOL),
    ("txQLen", INT),
], "main.IPAMArgs")
_ARGS = Struct("", [("cni", ("struct", _IPAM_ARGS))], 'struct { A *main.IPAMArgs "json:\\"cni\\"" }')
FIELDS: list[tuple[str, Any]] = [
    ("dataDir", STRING),
    ("sysctl", ("map", STRING, "map[string]string")),
    ("mac", STRING),
    ("promisc", BOOL),
    ("mtu", INT),
    ("txQLen", INT),
    ("allmulti", BOOL),
    runtime_mac_field(),
    ("args", ("struct", _ARGS)),
]


class TuningConf:
    """The decoded config after every override. None = not configured (Go's nil pointer / zero value)."""

    __slots__ = ("raw", "data_dir", "sysctl", "mac", "promisc", "mtu", "txqlen", "allmulti")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.data_dir: str = raw.get("dataDir") or DEFAULT_DATA_DIR
        self.sysctl: list[tuple[str, str]] = list((raw.get("sysctl") or {}).items())
        self.mac: str = raw.get("mac", "")
        self.promisc: bool | None = raw.get("promisc")  # explicit false is kept (see plugin.py's docstring)
        self.mtu: int = raw.get("mtu", 0)
        self.txqlen: int | None = raw.get("txQLen")
        self.allmulti: bool | None = raw.get("allmulti")

    @property
    def changes_link(self) -> bool:
        return bool(self.mac) or self.mtu != 0 or self.promisc is not None or self.allmulti is not None \
            or self.txqlen is not None


def load_conf(args: CmdArgs) -> TuningConf:
    raw = decode_conf(args.conf, FIELDS, "failed to load netconf", "TuningConf")
    conf = TuningConf(raw)
    mac = mac_override(args.args, (raw.get("runtimeConfig") or {}).get("mac", ""))
    if mac:
        conf.mac = mac
    cni = (raw.get("args") or {}).get("cni")
    if cni is not None:
        if "sysctl" in cni:
            merged = dict(conf.sysctl)
            merged.update(cni["sysctl"])
            conf.sysctl = list(merged.items())
        if "mac" in cni:
            conf.mac = cni["mac"]
        if "promisc" in cni:
            conf.promisc = cni["promisc"]
        if "mtu" in cni:
            conf.mtu = cni["mtu"]
        if "allmulti" in cni:
            conf.allmulti = cni["allmulti"]
        if "txQLen" in cni:
            conf.txqlen = cni["txQLen"]
    return conf


# ---------------------------------------------------------------------------------------------
# Duplicate sysctl keys


def check_duplicate_sysctl_keys(stdin: bytes) -> None:
    """HEAD rejects a sysctl key given twice (decoding stdin into map[sysctlKey]string with a key hook).

    Go's own errors from that decode come back unwrapped: the first type mismatch, unless a duplicate (which
    aborts the decode) comes first.
    """
    if b"sysctl" not in stdin.lower():
        return
    pairs = _loads_pairs(stdin)
    if not isinstance(pairs, list):
        return
    seen: set[str] = set()
    type_error: str | None = None
    for key, value in pairs:
        if not isinstance(key, str) or key.casefold() != "sysctl" or value is None:
            continue
        if not _is_pairs(value):
            type_error = type_error or (f"json: cannot unmarshal {_kind(value)} into Go struct field "
                                        "sysctlCheck.sysctl of type map[main.sysctlKey]string")
            continue
        for k, v in value:
            if k in seen:
                raise ValueError("duplicated sysctl keys are not allowed")
            seen.add(k)
            if v is not None and not isinstance(v, str):
                type_error = type_error or (f"json: cannot unmarshal {_kind(v)} into Go struct field "
                                            "sysctlCheck.sysctl of type string")
    if type_error:
        raise ValueError(type_error)


class _PairsList(list):
    """A JSON object kept as its (key, value) pairs, duplicates included."""


def _is_pairs(v: Any) -> bool:
    return isinstance(v, _PairsList)


def _kind(v: Any) -> str:
    # _loads_pairs makes every object a _PairsList (a list), so name those before the shared helper
    # would call them arrays; no plain dict ever comes from it.
    if _is_pairs(v):
        return "object"
    return json_kind(v)


def _loads_pairs(stdin: bytes) -> Any:
    """stdin with every object as a _PairsList of its (key, value) pairs, repeated keys kept."""
    try:
        value = gojson.loads(stdin)
    except gojson.JSONSyntaxError:  # already validated by skel; nothing to check on odd input
        return None
    return _as_pairs(value)


def _as_pairs(v: Any) -> Any:
    if isinstance(v, dict):
        items = getattr(v, "pairs", None) or v.items()  # gojson.DupKeys keeps repeated keys in .pairs
        return _PairsList((k, _as_pairs(x)) for k, x in items)
    if isinstance(v, list):
        return [_as_pairs(x) for x in v]
    return v


# ---------------------------------------------------------------------------------------------
# Allow-list and sysctl paths


def read_allowlist(path: str = ALLOWLIST_FILE) -> list[str] | None:
    """Non-empty trimmed lines of the allow-list, or None when the file does not exist (no restriction)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"open {path}: {errno_text(exc)}") from None
    return [line.strip() for line in text.split("\n") if line.strip()]


def validate_allowlist(sysctls: list[tuple[str, str]], allowlist: list[str] | None) -> None:
    """Every key must match (unanchored, like Go's regexp.MatchString) one allow-list pattern."""
    if allowlist is None or not sysctls:
        return
    import re  # lazy: several ms, and only hosts with an allow-list file get here

    compiled = []
    for pattern in allowlist:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"error parsing regexp: {exc}: `{pattern}`") from None
    for key, _ in sysctls:
        if not any(rx.search(key) for rx in compiled):
            raise ValueError(f"Sysctl {key} is not allowed. Only the following sysctls are allowed: "
                             f"[{' '.join(allowlist)}]")


def backup_path(data_dir: str, container_id: str, ifname: str) -> str:
    """Where ADD keeps the attributes it changed (upstream's filepath.Join, cleaned)."""
    return join_path(data_dir, f"{container_id}_{ifname}.json")


def sysctl_filename(key: str, ifname: str) -> str:
    """HEAD's getSysctlFilename: dots become slashes, then the first IFNAME is the interface (so dotted
    interface names work); the joined, cleaned path must stay under /proc/sys/net/."""
    key = key.replace(".", "/").replace("IFNAME", ifname, 1)
    path = join_path("/proc/sys", key)
    if not path.startswith("/proc/sys/net/"):
        raise ValueError(f"invalid net sysctl key: {q(key)}")
    return path
