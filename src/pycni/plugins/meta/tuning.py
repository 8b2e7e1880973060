"""`tuning`: sysctls and link attributes of the container interface (upstream HEAD), restored on DEL.

Recipe: reject duplicated sysctl keys -> decode the config (CNI_ARGS MAC < runtimeConfig.mac < args.cni.*)
-> allow-list -> in the container netns: write the net sysctls (IFNAME = the interface), back up the current
values of the link attributes about to change (<dataDir>/<cid>_<ifname>.json), then set mac, promisc, mtu,
allmulti, txqlen. DEL restores the backup; sysctls are never restored (as upstream). CHECK compares.

Deliberate differences from upstream (each a bug or leak there):
  * `args.cni.sysctl` without a top-level `sysctl` map is merged into an empty map (upstream panics);
  * `"promisc": false` given explicitly turns promiscuous mode off (upstream ignores false, so its own CHECK
    then fails on a promiscuous link); the old state is backed up and restored like `true`;
  * the backup is written atomically (tmp + fsync + rename) into a 0700 directory (upstream: 0600, in place);
  * DEL removes the backup when the netns or the interface is gone or the backup is unreadable (upstream
    leaves it behind forever); restore errors are still not reported (as upstream);
  * CHECK compares MACs as addresses, not strings, and prints values, not Go pointers.
"""

from __future__ import annotations

from pycni.skel import CmdArgs, Plugin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_DATA_DIR = "/run/cni/tuning"
ALLOWLIST_FILE = "/etc/cni/tuning/allowlist.conf"

IFF_PROMISC = 0x100
IFF_ALLMULTI = 0x200


def _fields() -> list[tuple[str, Any]]:
    from pycni.plugins.common import runtime_mac_field
    from pycni.spec.godecode import BOOL, INT, STRING, Struct

    ipam_args = Struct("IPAMArgs", [
        ("sysctl", ("map", STRING, "map[string]string")),
        ("mac", STRING),
        ("promisc", BOOL),
        ("mtu", INT),
        ("allmulti", BOOL),
        ("txQLen", INT),
    ], "main.IPAMArgs")
    args = Struct("", [("cni", ("struct", ipam_args))], 'struct { A *main.IPAMArgs "json:\\"cni\\"" }')
    return [
        ("dataDir", STRING),
        ("sysctl", ("map", STRING, "map[string]string")),
        ("mac", STRING),
        ("promisc", BOOL),
        ("mtu", INT),
        ("txQLen", INT),
        ("allmulti", BOOL),
        runtime_mac_field(),
        ("args", ("struct", args)),
    ]


# ---------------------------------------------------------------------------------------------
# Configuration


class TuningConf:
    """The decoded config after every override. None = not configured (Go's nil pointer / zero value)."""

    __slots__ = ("raw", "data_dir", "sysctl", "mac", "promisc", "mtu", "txqlen", "allmulti")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.data_dir: str = raw.get("dataDir") or DEFAULT_DATA_DIR
        self.sysctl: list[tuple[str, str]] = list((raw.get("sysctl") or {}).items())
        self.mac: str = raw.get("mac", "")
        self.promisc: bool | None = raw.get("promisc")  # explicit false is kept (see module docstring)
        self.mtu: int = raw.get("mtu", 0)
        self.txqlen: int | None = raw.get("txQLen")
        self.allmulti: bool | None = raw.get("allmulti")

    @property
    def changes_link(self) -> bool:
        return bool(self.mac) or self.mtu != 0 or self.promisc is not None or self.allmulti is not None \
            or self.txqlen is not None


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


class _PairsList(list):  # type: ignore[type-arg]
    """A JSON object kept as its (key, value) pairs, duplicates included."""


def _is_pairs(v: Any) -> bool:
    return isinstance(v, _PairsList)


def _kind(v: Any) -> str:
    # _loads_pairs makes every object a _PairsList (a list), so name those before the shared helper
    # would call them arrays; no plain dict ever comes from it.
    if _is_pairs(v):
        return "object"
    from pycni.spec.godecode import json_kind

    return json_kind(v)


def _loads_pairs(stdin: bytes) -> Any:
    """stdin with every object as a _PairsList of its (key, value) pairs, repeated keys kept."""
    from pycni.spec import gojson

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


def load_conf(args: CmdArgs) -> TuningConf:
    from pycni.plugins.common import decode_conf, mac_override

    raw = decode_conf(args.conf, _fields(), "failed to load netconf", "TuningConf")
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


def read_allowlist(path: str = ALLOWLIST_FILE) -> list[str] | None:
    """Non-empty trimmed lines of the allow-list, or None when the file does not exist (no restriction)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"open {path}: {_strerror(exc)}") from None
    return [line.strip() for line in text.split("\n") if line.strip()]


def validate_allowlist(sysctls: list[tuple[str, str]], allowlist: list[str] | None) -> None:
    """Every key must match (unanchored, like Go's regexp.MatchString) one allow-list pattern."""
    if allowlist is None or not sysctls:
        return
    import re

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


def sysctl_filename(key: str, ifname: str) -> str:
    """HEAD's getSysctlFilename: dots become slashes, then the first IFNAME is the interface (so dotted
    interface names work); the cleaned path must stay under /proc/sys/net/."""
    import posixpath

    key = key.replace(".", "/").replace("IFNAME", ifname, 1)
    path = posixpath.normpath(posixpath.join("/proc/sys", key))
    if not path.startswith("/proc/sys/net/"):
        raise ValueError(f"invalid net sysctl key: {_go_quote(key)}")
    return path


def _go_quote(s: str) -> str:
    from pycni.spec.version import go_quote

    return go_quote(s)


def _strerror(exc: OSError) -> str:
    from pycni.gofmt import errno_text as strerror

    return strerror(exc.errno or 0)


def backup_path(data_dir: str, container_id: str, ifname: str) -> str:
    import os

    return os.path.join(data_dir, f"{container_id}_{ifname}.json")


# ---------------------------------------------------------------------------------------------
# Link attributes


def _set_flag(index: int, flag: int, on: bool) -> None:
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkSocket

    with NetlinkSocket() as s:
        s.request(c.RTM_NEWLINK, c.pack_ifinfomsg(index=index, flags=flag if on else 0, change=flag))


def _set_txqlen(index: int, qlen: int) -> None:
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkSocket

    with NetlinkSocket() as s:
        s.request(c.RTM_NEWLINK, c.pack_link(c.Link(index=index, txqlen=qlen & 0xFFFFFFFF)))


def _get_link(ifname: str) -> Any:
    from pycni.linux import link
    from pycni.netlink.socket import NetlinkError

    try:
        return link.link_by_name(ifname)
    except NetlinkError as exc:
        raise ValueError(f"failed to get {_go_quote(ifname)}: {exc}") from None


def change_mac(ifname: str, mac: str) -> None:
    from pycni.linux import link
    from pycni.netlink import codec as c

    try:
        raw = c.parse_mac(mac)
    except c.CodecError as exc:
        raise ValueError(f"invalid args {mac} for MAC addr: {exc}") from None
    lk = _get_link(ifname)
    link.link_set_hwaddr(lk, c.mac_str(raw))


def change_promisc(ifname: str, on: bool) -> None:
    _set_flag(_get_link(ifname).index, IFF_PROMISC, on)


def change_allmulti(ifname: str, on: bool) -> None:
    _set_flag(_get_link(ifname).index, IFF_ALLMULTI, on)


def change_mtu(ifname: str, mtu: int) -> None:
    from pycni.linux import link

    link.link_set_mtu(_get_link(ifname), mtu & 0xFFFFFFFF)


def change_txqlen(ifname: str, qlen: int) -> None:
    _set_txqlen(_get_link(ifname).index, qlen)


def backup_content(conf: TuningConf, lk: Any) -> dict[str, Any]:
    """The upstream backup document: the current value of exactly the attributes about to change."""
    out: dict[str, Any] = {}
    if conf.mac:
        out["mac"] = lk.address or ""
    if conf.promisc is not None:
        out["promisc"] = bool(lk.flags & IFF_PROMISC)
    if conf.mtu != 0 and lk.mtu:
        out["mtu"] = lk.mtu
    if conf.allmulti is not None:
        out["allmulti"] = bool(lk.flags & IFF_ALLMULTI)
    if conf.txqlen is not None:
        out["txQLen"] = lk.txqlen or 0
    return out


def write_backup(path: str, content: dict[str, Any], ifname: str) -> None:
    """Atomically: <path>.tmp.<pid>, fsync, rename, fsync the directory. Directory created 0700."""
    import os

    from pycni.spec import gojson

    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"failed to create backup directory: mkdir {exc.filename or directory}: "
                         f"{_strerror(exc)}") from None
    data = gojson.dumps(content, 1).encode()
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ValueError(f"failed to save file {ifname}.json: open {path}: {_strerror(exc)}") from None


def read_backup(path: str) -> dict[str, Any] | None:
    """The backup document; None when absent. ValueError when unreadable or not a JSON object."""
    from pycni.spec import gojson

    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"failed to open file {_go_quote(path)}: {_strerror(exc)}") from None
    try:
        doc = gojson.loads(data)
    except gojson.JSONSyntaxError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc, dict):
        raise ValueError("backup is not a JSON object")
    return doc


def restore(ifname: str, doc: dict[str, Any]) -> list[str]:
    """Apply a backup (mtu, mac, promisc, allmulti, txqlen). Returns the error texts (empty: all restored)."""
    errors: list[str] = []
    steps = (
        ("mtu", lambda v: bool(v), change_mtu, "failed to restore MTU"),
        ("mac", lambda v: bool(v), change_mac, "failed to restore MAC address"),
        ("promisc", lambda v: v is not None, change_promisc, "failed to restore promiscuous mode"),
        ("allmulti", lambda v: v is not None, change_allmulti, "failed to restore all-multicast mode"),
        ("txQLen", lambda v: v is not None, change_txqlen, "failed to restore transmit queue length"),
    )
    for key, wanted, fn, what in steps:
        value = _backup_field(doc, key)
        if not wanted(value):
            continue
        try:
            fn(ifname, value)
        except (ValueError, OSError) as exc:
            errors.append(f"{what}: {exc}")
    return errors


def _backup_field(doc: dict[str, Any], key: str) -> Any:
    # Go decodes the backup into configToRestore: case-insensitive keys, wrong types are a decode error.
    for k, v in doc.items():
        if k == key or k.casefold() == key.casefold():
            if key == "mac" and isinstance(v, str):
                return v
            if key in ("promisc", "allmulti") and isinstance(v, bool):
                return v
            if key in ("mtu", "txQLen") and isinstance(v, int) and not isinstance(v, bool):
                return v
            return None
    return None


# ---------------------------------------------------------------------------------------------
# Commands


def _prev_result(conf: TuningConf) -> dict[str, Any]:
    from pycni.spec.netconf import parse_prev_result
    from pycni.spec.result import ResultError

    raw = conf.raw.get("prevResult")
    if raw is None:
        raise ValueError("Required prevResult missing")
    try:
        prev = parse_prev_result(raw, conf.raw.get("cniVersion", ""))
    except ResultError as exc:
        raise ValueError(str(exc)) from None
    assert prev is not None
    return prev


class _Enter:
    """`with _Enter(path):` is netns(path) whose entry failures are plain errors (code 999), as the reference's."""

    __slots__ = ("_ns",)

    def __init__(self, path: str) -> None:
        from pycni.netlink.netns import netns

        self._ns = netns(path)

    def __enter__(self) -> None:
        from pycni.netlink.netns import NetNSError

        try:
            self._ns.__enter__()
        except NetNSError as exc:
            raise ValueError(str(exc)) from None

    def __exit__(self, *exc: Any) -> None:
        self._ns.__exit__(*exc)


def write_sysctls(conf: TuningConf, ifname: str) -> None:
    from pycni.linux.sysctl import write_path

    for key, value in conf.sysctl:
        write_path(sysctl_filename(key, ifname), value, create=True)


def cmd_add(args: CmdArgs) -> dict[str, Any]:
    check_duplicate_sysctl_keys(args.stdin)
    conf = load_conf(args)
    validate_allowlist(conf.sysctl, read_allowlist())
    if "/" in args.ifname:
        raise ValueError(f"Interface name ({args.ifname}) contains an invalid character /")
    result = _prev_result(conf)
    with _Enter(args.netns):
        write_sysctls(conf, args.ifname)
        if conf.changes_link:
            lk = _get_link(args.ifname)
            write_backup(backup_path(conf.data_dir, args.container_id, args.ifname), backup_content(conf, lk),
                         args.ifname)
        if conf.mac:
            change_mac(args.ifname, conf.mac)
            result = _with_mac(result, args.ifname, conf.mac)
        if conf.promisc is not None:
            change_promisc(args.ifname, conf.promisc)
        if conf.mtu != 0:
            change_mtu(args.ifname, conf.mtu)
        if conf.allmulti is not None:
            change_allmulti(args.ifname, conf.allmulti)
        if conf.txqlen is not None:
            change_txqlen(args.ifname, conf.txqlen)
    return result


def _with_mac(result: dict[str, Any], ifname: str, mac: str) -> dict[str, Any]:
    """updateResultsMacAddr: the result in the current version, every interface named ifname gets mac."""
    from pycni.spec.result import convert

    cur = convert(result, "1.1.0")
    cur = dict(cur)
    cur["interfaces"] = [dict(i, mac=mac) if i.get("name") == ifname else i for i in cur.get("interfaces") or []]
    if not cur["interfaces"]:
        del cur["interfaces"]
    return cur


def cmd_del(args: CmdArgs) -> None:
    import os

    from pycni.netlink.netns import NetNSError, NSPathNotExistError, netns
    from pycni.netlink.socket import LinkNotFoundError

    conf = load_conf(args)
    path = backup_path(conf.data_dir, args.container_id, args.ifname)
    if not os.path.exists(path):
        return
    if args.netns == "":
        _remove(path)  # the runtime says the namespace is gone, and the interface with it
        return
    try:
        with netns(args.netns):
            try:
                doc = read_backup(path)
            except ValueError:
                _remove(path)  # nothing usable to restore
                return
            if doc is None:
                return
            from pycni.linux import link

            try:
                link.link_by_name(args.ifname)
            except LinkNotFoundError:
                _remove(path)  # the interface is gone: nothing left to restore
                return
            except OSError:
                return
            if not restore(args.ifname, doc):
                _remove(path)
            # Restore errors are swallowed (as upstream); the backup stays for a retried DEL.
    except NSPathNotExistError:
        _remove(path)
    except NetNSError:
        pass


def _remove(path: str) -> None:
    import os

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def cmd_check(args: CmdArgs) -> None:
    from pycni.netlink import codec as c
    from pycni.spec.result import ResultError, convert

    check_duplicate_sysctl_keys(args.stdin)
    conf = load_conf(args)
    result = _prev_result(conf)
    try:
        convert(result, "1.1.0")
    except ResultError as exc:
        raise ValueError(str(exc)) from None
    with _Enter(args.netns):
        for key, want in conf.sysctl:
            path = sysctl_filename(key, args.ifname)
            try:
                with open(path, "rb") as f:
                    got = f.read().decode("utf-8", "surrogateescape")
            except OSError as exc:
                raise ValueError(f"open {path}: {_strerror(exc)}") from None
            if got.endswith("\n"):
                got = got[:-1]
            if got != want:
                raise ValueError(f"Error: Tuning configured value of {path} is {want}, current value is {got}")
        from pycni.linux import link
        from pycni.netlink.socket import NetlinkError

        try:
            lk = link.link_by_name(args.ifname)
        except NetlinkError:
            raise ValueError(f"Cannot find container link {args.ifname}") from None
        name = args.ifname
        if conf.mac:
            try:
                same = c.parse_mac(conf.mac) == c.parse_mac(lk.address or "")
            except c.CodecError:
                same = False
            if not same:
                raise ValueError(f"Error: Tuning configured Ethernet of {name} is {conf.mac}, "
                                 f"current value is {lk.address}")
        promisc = 1 if lk.flags & IFF_PROMISC else 0
        want_promisc = bool(conf.promisc)
        if want_promisc != bool(promisc):
            raise ValueError(f"Error: Tuning link {name} configured promisc is {_go_bool(want_promisc)}, "
                             f"current value is {promisc}")
        if conf.mtu != 0 and conf.mtu != lk.mtu:
            raise ValueError(f"Error: Tuning configured MTU of {name} is {conf.mtu}, current value is {lk.mtu}")
        if conf.allmulti is not None:
            allmulti = bool(lk.flags & IFF_ALLMULTI)
            if allmulti != conf.allmulti:
                raise ValueError(f"Error: Tuning configured all-multicast mode of {name} is "
                                 f"{_go_bool(conf.allmulti)}, current value is {_go_bool(allmulti)}")
        if conf.txqlen is not None and conf.txqlen != lk.txqlen:
            raise ValueError(f"Error: Tuning configured Transmit Queue Length of {name} is {conf.txqlen}, "
                             f"current value is {lk.txqlen}")


def _go_bool(v: bool) -> str:
    return "true" if v else "false"


cmd_gc = cmd_status = None  # upstream's skel: no GC/STATUS handler, so both succeed doing nothing

PLUGIN = Plugin("tuning", impl=__name__)  # transitional: moves into a package

