"""`host-local` IPAM, the implementation: one lock per network held for the whole command.

Same configuration, results, errors and on-disk layout as upstream HEAD (plugins/ipam/host-local),
so one data directory can be shared with the reference binary in either direction. pycni adds:
an index beside the layout, so ADD/DEL/CHECK cost does not grow with the number of allocations
(store/); atomic, fsynced writes; GC (releases every allocation not in the runtime's valid
attachments) and STATUS (code 50 when a range set is full or the data directory is unusable).
"""

from __future__ import annotations

import posix

from pycni.skel import CmdArgs
from pycni.spec import ipnet
from pycni.spec import result as R
from pycni.spec.errors import PLUGIN_NOT_AVAILABLE, CNIError
from pycni.spec.godecode import DecodeError

from .allocator import IPAllocator
from .config import IPAMConfig, load_ipam_config
from .store import LINE_BREAK, Store, crash, go_trim


def _open(cfg: IPAMConfig, phase: str) -> Store:
    store = Store(cfg.name, cfg.data_dir, phase)
    store.lock()
    return store


def cmd_add(args: CmdArgs) -> R.Result:
    cfg = load_ipam_config(args.conf, args.args)
    dns = None
    if cfg.resolv_conf:
        from .dns import parse_resolv_conf  # lazy: only configs naming a resolvConf; ADD's import set stays pinned

        dns = parse_resolv_conf(cfg.resolv_conf)
    store = _open(cfg, "add")
    try:
        store.load()
        store.set_ranges(cfg.ranges)
        requested = {ipnet.ip_str(ip): ip for ip in cfg.ip_args}  # duplicates collapse
        used: list[IPAllocator] = []
        ips = []
        for idx, rangeset in enumerate(cfg.ranges):
            alloc = IPAllocator(rangeset, store, idx)
            want = None
            for text, ip in requested.items():
                if rangeset.contains(ip):
                    want = ip
                    del requested[text]
                    break
            try:
                ipc = alloc.get(args.container_id, args.ifname, want)
            except (ValueError, OSError) as exc:
                raise ValueError(f"failed to allocate for range {idx}: {exc}" + _rollback(used, args)) from None
            used.append(alloc)
            ips.append(ipc)
        if requested:
            raise ValueError("failed to allocate all requested IPs: " + " ".join(requested) + _rollback(used, args))
    finally:
        store.close()
    crash.kill_point("add:done")
    return R.new_result(ips, [R.route_from_config(r) for r in cfg.routes], dns)


def _rollback(used: list[IPAllocator], args: CmdArgs) -> str:
    """As upstream: one release per allocator already used, by (id, ifname). Upstream ignores a
    release that fails; here it is added to ADD's error (returned as text to append), since the
    address then stays reserved."""
    errs = []
    for alloc in used:
        try:
            alloc.release(args.container_id, args.ifname)
        except (ValueError, OSError) as exc:
            errs.append(str(exc))
    return "; rollback " + "; ".join(errs) if errs else ""


def cmd_del(args: CmdArgs) -> None:
    cfg = load_ipam_config(args.conf, args.args)
    store = _open(cfg, "del")
    errs = []
    try:
        store.load()
        store.set_ranges(cfg.ranges)
        # One release per range set, as upstream (the second one sweeps legacy id-only files).
        for idx, rangeset in enumerate(cfg.ranges):
            try:
                IPAllocator(rangeset, store, idx).release(args.container_id, args.ifname)
            except (ValueError, OSError) as exc:
                if str(exc) not in errs:  # the next set's release meets the same stuck files
                    errs.append(str(exc))
    finally:
        store.close()
    crash.kill_point("del:done")
    if errs:
        raise ValueError(";".join(errs))


def cmd_check(args: CmdArgs) -> None:
    cfg = load_ipam_config(args.conf, args.args)
    store = _open(cfg, "check")
    try:
        store.load()
        found = store.find_by_id(args.container_id, args.ifname)
    finally:
        store.close()
    if not found:
        raise ValueError(f"host-local: Failed to find address added by container {args.container_id}")


def cmd_gc(args: CmdArgs) -> None:
    """Release every allocation whose (container ID, ifname) is not a valid attachment."""
    from pycni.spec.netconf import valid_attachments  # lazy: GC only; ADD/DEL's import set is pinned by a test

    cfg = load_ipam_config(args.conf, args.args)
    try:
        valid = valid_attachments(args.conf)
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    if valid is None:
        return
    keep = {go_trim(cid) + LINE_BREAK + ifname for cid, ifname in valid}
    keep_legacy = {go_trim(cid) for cid, _ in valid}
    store = _open(cfg, "gc")
    errs = []
    try:
        store.load()
        for rel, key in store.entries():
            if "/" in rel or ipnet.parse_ip(rel) is None:
                continue  # only allocation files; anything else in the directory is left alone
            if key in keep or key in keep_legacy:
                continue
            try:
                store.release(rel, key)
            except ValueError as exc:
                errs.append(str(exc))
    finally:
        store.close()
    if errs:
        raise ValueError("failed to release: " + "; ".join(errs))


def cmd_status(args: CmdArgs) -> None:
    """Code 50 when the data directory is unusable or a range set has no free address."""
    cfg = load_ipam_config(args.conf, args.args)
    try:
        store = Store(cfg.name, cfg.data_dir)
    except (ValueError, OSError) as exc:
        raise CNIError(PLUGIN_NOT_AVAILABLE, f"host-local: data directory unusable: {exc}") from None
    try:
        if not posix.access(store.dir, posix.W_OK | posix.X_OK):
            raise CNIError(PLUGIN_NOT_AVAILABLE, f"host-local: data directory unusable: {store.dir} is not writable")
        names = posix.listdir(store.dir)
    except OSError as exc:
        raise CNIError(PLUGIN_NOT_AVAILABLE, f"host-local: data directory unusable: {exc}") from None
    finally:
        store.close()
    held = None
    for idx, rangeset in enumerate(cfg.ranges):
        capacity = sum(r.size() for r in rangeset)
        if capacity > len(names):
            continue  # more addresses than files of any kind: one is free
        if held is None:
            held = [ip for ip in (ipnet.parse_ip(n) for n in names) if ip is not None]
        used = 0
        for ip in held:
            r = rangeset.find(ip)
            if r is not None and ip != r.gateway:
                used += 1
        if capacity - used <= 0:
            raise CNIError(PLUGIN_NOT_AVAILABLE,
                           f"host-local: no free addresses in range set {idx} ({rangeset}): "
                           f"{used} of {capacity} allocated")
