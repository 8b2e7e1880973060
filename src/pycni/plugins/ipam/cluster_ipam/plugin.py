"""`cluster-ipam`, the implementation: the CNI handlers around engine.py's transactions.

ADD runs under the node-local flock (one ADD per node and network at a time) and prints the
attachment's addresses; DEL/CHECK/GC/STATUS as documented per handler. Every etcd failure is
code 11 (50 for STATUS) naming each endpoint's error; nothing is ever reported as done unless it is.
"""

from __future__ import annotations

import sys

from pycni.skel import CmdArgs
from pycni.spec import ipnet
from pycni.spec import result as R
from pycni.spec.errors import INTERNAL, PLUGIN_NOT_AVAILABLE, TRY_AGAIN_LATER, CNIError
from pycni.spec.netconf import check_prev_result

from . import config as C
from .blocks import endpoint_start
from .engine import Engine, entries_of
from .etcd import Client, op_range
from .local import NodeLock, TokenCache

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

STATS_ENV = "PYCNI_CLUSTER_IPAM_STATS"  # set: one stats line on stderr per exec (benchmarks)
_POD_ARGS = {"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "pod", "K8S_POD_UID": "uid"}


def _engine(args: CmdArgs) -> Engine:
    cfg = C.load(args.conf, args.env)
    cache = TokenCache(cfg.lock_dir, [e.url for e in cfg.endpoints], cfg.username, cfg.password) if cfg.username else None
    client = Client(cfg.endpoints, endpoint_start(cfg.node, len(cfg.endpoints)), cfg.attempt, cfg.budget,
                    cfg.tls, cfg.username, cfg.password, cache)
    return Engine(cfg, client)


def _done(args: CmdArgs, eng: Engine) -> None:
    eng.c.close()
    if args.env.get(STATS_ENV):
        s = eng.stats
        sys.stderr.write(f"cluster-ipam stats: cmd={args.command} rt={eng.c.round_trips} claims={s['claims']} "
                         f"borrows={s['borrows']} reclaims={s['reclaims']} conflicts={s['conflicts']}\n")


def _pod_meta(cni_args: str) -> dict[str, str]:
    """K8S_POD_* from CNI_ARGS, stored as metadata only (identity is containerID + ifname)."""
    out = {}
    for pair in cni_args.split(";"):
        k, _, v = pair.partition("=")
        if k in _POD_ARGS and v:
            out[_POD_ARGS[k]] = v
    return out


def cmd_add(args: CmdArgs) -> R.Result:
    eng = _engine(args)
    cfg = eng.cfg
    try:
        with NodeLock(cfg.lock_dir, cfg.network, cfg.node) as lock:
            eng.c.start_clock()  # after the lock: waiting for this node's other ADDs is not etcd's time
            hints = lock.load_hints()
            before = dict(hints)
            entries = eng.add(args.container_id, args.ifname, _pod_meta(args.args), hints)
            if hints != before:
                lock.save_hints(hints)
    finally:
        _done(args, eng)
    ips: list[R.IPConfig] = []
    for e in entries:
        ipc: R.IPConfig = {"address": e["address"]}
        if e.get("gateway"):
            ipc["gateway"] = e["gateway"]
        ips.append(ipc)
    return R.new_result(ips, [R.route_from_config(r) for r in cfg.routes], cfg.dns)


def cmd_del(args: CmdArgs) -> None:
    """Idempotent: no attachment is success; etcd unreachable is code 11, never a silent success."""
    eng = _engine(args)
    eng.c.start_clock()
    try:
        eng.release(args.container_id, args.ifname)
    finally:
        _done(args, eng)


def cmd_check(args: CmdArgs) -> None:
    """The attachment exists in etcd and its addresses are in prevResult."""
    eng = _engine(args)
    eng.c.start_clock()
    try:
        h = eng.read_handle(args.container_id, args.ifname)
    finally:
        _done(args, eng)
    if h is None:
        raise CNIError(INTERNAL, f"cluster-ipam: no allocation for container {args.container_id} "
                                 f"interface {args.ifname}")
    have = {ipnet.parse_ip(ipc["address"].split("/")[0]) for ipc in check_prev_result(args.conf).get("ips") or []}
    for e in entries_of(h.value):
        ip = ipnet.parse_ip(str(e.get("address", "")).split("/")[0])
        if ip not in have:
            raise CNIError(INTERNAL, f"cluster-ipam: allocated address {e.get('address')} is missing from "
                                     f"prevResult for interface {args.ifname}")


def cmd_gc(args: CmdArgs) -> None:
    """Release this node's attachments missing from cni.dev/valid-attachments (never another
    node's); without that key (or its legacy name cni.dev/attachments), do nothing: the spec says the
    runtime must send it, and guessing "everything is stale" would free live addresses. Then this
    node's empty blocks past the reclaim age. The runtime runs GC with no ADD/DEL in flight (spec)."""
    valid_list = args.conf.get("cni.dev/valid-attachments")
    if valid_list is None:
        valid_list = args.conf.get("cni.dev/attachments")  # the 0.4-era name of the same list
    if not isinstance(valid_list, list):
        return
    valid = set()
    for a in valid_list:
        if isinstance(a, dict):
            valid.add((str(a.get("containerID", "")), str(a.get("ifname", ""))))
    eng = _engine(args)
    try:
        errors = eng.gc(valid)
    finally:
        _done(args, eng)
    if errors:
        raise CNIError(TRY_AGAIN_LATER, "cluster-ipam: GC could not release everything", "; ".join(errors))


def cmd_status(args: CmdArgs) -> None:
    """Code 50 when etcd has no quorum / cannot be reached, or a range set has no address left
    for this node."""
    eng = _engine(args)
    eng.c.start_clock()
    try:
        # One linearizable read of one key: fails at once (Hasleader) when there is no quorum.
        eng.c.txn([], [op_range(eng.k.handle("_status", "_probe"))])
        full = eng.exhausted_sets()
    except CNIError as exc:
        if exc.code == TRY_AGAIN_LATER:
            raise CNIError(PLUGIN_NOT_AVAILABLE, "cluster-ipam: etcd unavailable", exc.details) from None
        raise
    finally:
        _done(args, eng)
    if full:
        raise CNIError(PLUGIN_NOT_AVAILABLE, f"cluster-ipam: no IP addresses available in range set: {full[0]}")


def load_conf(args: CmdArgs) -> C.Config:
    return C.load(args.conf, args.env)
