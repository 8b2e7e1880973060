"""tuning's kernel work, in the container netns: net sysctls, the link attributes and their backup.

Loaded only by calls that change or compare something (plugin.py decides): the netlink stack and
setns cost a few milliseconds that the default chain's tuning, which changes nothing, does not pay.
"""

from __future__ import annotations

import os

from pycni.atomicfile import write_atomic
from pycni.gofmt import bool_text, errno_text, q
from pycni.linux import link
from pycni.linux.sysctl import write_path
from pycni.netlink import codec as c
from pycni.netlink import netns
from pycni.netlink.netns import NetNSError, NSPathNotExistError
from pycni.netlink.socket import LinkNotFoundError, NetlinkError, NetlinkSocket, wrap
from pycni.spec import gojson
from pycni.spec.result import convert

from .config import TuningConf, backup_path, sysctl_filename

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.skel import CmdArgs
    from pycni.spec.result import Result

IFF_PROMISC = 0x100
IFF_ALLMULTI = 0x200

# ---------------------------------------------------------------------------------------------
# Link attributes


def _set_flag(index: int, flag: int, on: bool) -> None:
    with NetlinkSocket() as s:
        s.request(c.RTM_NEWLINK, c.pack_ifinfomsg(index=index, flags=flag if on else 0, change=flag))


def _set_txqlen(index: int, qlen: int) -> None:
    with NetlinkSocket() as s:
        s.request(c.RTM_NEWLINK, c.pack_link(c.Link(index=index, txqlen=qlen & 0xFFFFFFFF)))


def _get_link(ifname: str) -> c.Link:
    with wrap("failed to get %q", ifname):
        return link.link_by_name(ifname)


def change_mac(ifname: str, mac: str) -> None:
    try:
        raw = c.parse_mac(mac)
    except c.MACError as exc:
        raise ValueError(f"invalid args {mac} for MAC addr: {exc}") from None
    lk = _get_link(ifname)
    link.link_set_hwaddr(lk, c.mac_str(raw))


def change_promisc(ifname: str, on: bool) -> None:
    _set_flag(_get_link(ifname).index, IFF_PROMISC, on)


def change_allmulti(ifname: str, on: bool) -> None:
    _set_flag(_get_link(ifname).index, IFF_ALLMULTI, on)


def change_mtu(ifname: str, mtu: int) -> None:
    link.link_set_mtu(_get_link(ifname), mtu & 0xFFFFFFFF)


def change_txqlen(ifname: str, qlen: int) -> None:
    _set_txqlen(_get_link(ifname).index, qlen)


# ---------------------------------------------------------------------------------------------
# The backup of the link attributes


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
    """The backup, written atomically (pycni.atomicfile) into a directory created 0700."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"failed to create backup directory: mkdir {exc.filename or directory}: "
                         f"{errno_text(exc)}") from None
    try:
        write_atomic(path, gojson.dumps(content, 1).encode(), 0o600)
    except OSError as exc:
        raise ValueError(f"failed to save file {ifname}.json: open {path}: {errno_text(exc)}") from None


def read_backup(path: str) -> dict[str, Any] | None:
    """The backup document; None when absent. ValueError when unreadable or not a JSON object."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"failed to open file {q(path)}: {errno_text(exc)}") from None
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


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------------------------------
# The calls


class _Enter:
    """`with _Enter(path):` is netns(path) whose entry failures are plain errors (code 999), as the reference's."""

    __slots__ = ("_ns",)

    def __init__(self, path: str) -> None:
        self._ns = netns.netns(path)

    def __enter__(self) -> None:
        try:
            self._ns.__enter__()
        except NetNSError as exc:
            raise ValueError(str(exc)) from None

    def __exit__(self, *exc: Any) -> None:
        self._ns.__exit__(*exc)


def write_sysctls(conf: TuningConf, ifname: str) -> None:
    for key, value in conf.sysctl:
        write_path(sysctl_filename(key, ifname), value, create=True)


def add(conf: TuningConf, args: CmdArgs, result: Result) -> Result:
    """ADD's work inside the netns: sysctls, the backup, then mac, promisc, mtu, allmulti, txqlen."""
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


def _with_mac(result: Result, ifname: str, mac: str) -> Result:
    """updateResultsMacAddr: the result in the current version, every interface named ifname gets mac."""
    cur = convert(result, "1.1.0").copy()
    cur["interfaces"] = [{**i, "mac": mac} if i.get("name") == ifname else i for i in cur.get("interfaces") or []]
    if not cur["interfaces"]:
        del cur["interfaces"]
    return cur


def restore_backup(args: CmdArgs, path: str) -> None:
    """DEL with a backup on disk: restore it in the netns and remove it once nothing is left to restore."""
    if args.netns == "":
        _remove(path)  # the runtime says the namespace is gone, and the interface with it
        return
    try:
        with netns.netns(args.netns):
            try:
                doc = read_backup(path)
            except ValueError:
                _remove(path)  # nothing usable to restore
                return
            if doc is None:
                return
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


def check(conf: TuningConf, args: CmdArgs) -> None:
    """CHECK inside the netns: every sysctl and link attribute as configured."""
    with _Enter(args.netns):
        for key, want in conf.sysctl:
            path = sysctl_filename(key, args.ifname)
            try:
                with open(path, "rb") as f:
                    got = f.read().decode("utf-8", "surrogateescape")
            except OSError as exc:
                raise ValueError(f"open {path}: {errno_text(exc)}") from None
            if got.endswith("\n"):
                got = got[:-1]
            if got != want:
                raise ValueError(f"Error: Tuning configured value of {path} is {want}, current value is {got}")
        try:
            lk = link.link_by_name(args.ifname)
        except NetlinkError:
            raise ValueError(f"Cannot find container link {args.ifname}") from None
        name = args.ifname
        if conf.mac:
            try:
                same = c.parse_mac(conf.mac) == c.parse_mac(lk.address or "")
            except c.MACError:
                same = False
            if not same:
                raise ValueError(f"Error: Tuning configured Ethernet of {name} is {conf.mac}, "
                                 f"current value is {lk.address}")
        promisc = 1 if lk.flags & IFF_PROMISC else 0
        want_promisc = bool(conf.promisc)
        if want_promisc != bool(promisc):
            raise ValueError(f"Error: Tuning link {name} configured promisc is {bool_text(want_promisc)}, "
                             f"current value is {promisc}")
        if conf.mtu != 0 and conf.mtu != lk.mtu:
            raise ValueError(f"Error: Tuning configured MTU of {name} is {conf.mtu}, current value is {lk.mtu}")
        if conf.allmulti is not None:
            allmulti = bool(lk.flags & IFF_ALLMULTI)
            if allmulti != conf.allmulti:
                raise ValueError(f"Error: Tuning configured all-multicast mode of {name} is "
                                 f"{bool_text(conf.allmulti)}, current value is {bool_text(allmulti)}")
        if conf.txqlen is not None and conf.txqlen != lk.txqlen:
            raise ValueError(f"Error: Tuning configured Transmit Queue Length of {name} is {conf.txqlen}, "
                             f"current value is {lk.txqlen}")
