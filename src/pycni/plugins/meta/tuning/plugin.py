"""`tuning`, the implementation: sysctls and link attributes of the container interface (upstream HEAD).

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

import posix

from pycni.netlink.netns import NetNSError, open_netns
from pycni.skel import CmdArgs
from pycni.spec.netconf import parse_prev_result
from pycni.spec.result import ResultError, convert

from .config import (
    TuningConf,
    backup_path,
    check_duplicate_sysctl_keys,
    load_conf,
    read_allowlist,
    validate_allowlist,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycni.spec.result import Result


def _prev_result(conf: TuningConf) -> Result:
    raw = conf.raw.get("prevResult")
    if raw is None:
        raise ValueError("Required prevResult missing")
    try:
        prev = parse_prev_result(raw, conf.raw.get("cniVersion", ""))
    except ResultError as exc:
        raise ValueError(str(exc)) from None
    assert prev is not None
    return prev


def _check_netns(path: str) -> None:
    """What entering the netns would reject (missing, not a namespace, unreadable), without entering."""
    try:
        posix.close(open_netns(path))
    except NetNSError as exc:
        raise ValueError(str(exc)) from None


def cmd_add(args: CmdArgs) -> Result:
    check_duplicate_sysctl_keys(args.stdin)
    conf = load_conf(args)
    validate_allowlist(conf.sysctl, read_allowlist())
    if "/" in args.ifname:
        raise ValueError(f"Interface name ({args.ifname}) contains an invalid character /")
    result = _prev_result(conf)
    if not conf.sysctl and not conf.changes_link:
        _check_netns(args.netns)  # podman's default chain: nothing to change, nothing more to load
        return result
    from . import device  # lazy: netlink, setns (ctypes before 3.12), atomic files: ~6 ms of a no-op call

    return device.add(conf, args, result)


def cmd_del(args: CmdArgs) -> None:
    conf = load_conf(args)
    path = backup_path(conf.data_dir, args.container_id, args.ifname)
    try:
        posix.stat(path)
    except OSError:
        return  # no backup: ADD changed no link attribute (sysctls are never restored, as upstream)
    from . import device  # lazy: as in cmd_add

    device.restore_backup(args, path)


def cmd_check(args: CmdArgs) -> None:
    check_duplicate_sysctl_keys(args.stdin)
    conf = load_conf(args)
    result = _prev_result(conf)
    try:
        convert(result, "1.1.0")
    except ResultError as exc:
        raise ValueError(str(exc)) from None
    from . import device  # lazy: as in cmd_add (CHECK always reads the link)

    device.check(conf, args)


# Upstream's tuning registers no GC/STATUS handler (skel answers both with success): nothing to forward.
cmd_gc = cmd_status = None
