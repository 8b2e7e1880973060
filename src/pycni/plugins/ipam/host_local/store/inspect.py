"""Read-only views of a host-local store, for `pycni ipam show` and the tests.

Takes a network's lock shared (waits for a running command, blocks no other reader), creates and
changes nothing. Never on a plugin's path.
"""

from __future__ import annotations

import fcntl
import posix

from pycni.gofmt import join_path

from .index import BUCKETS, State, index_dir_for, read_bucket, unesc
from .index import read_state as _read_index_state
from .layout import DEFAULT_DATA_DIR, is_allocation, scan_dir, walk_order


def read_state(data_dir: str, network: str) -> State | None:
    """The index marker of a network, or None."""
    return _read_index_state(index_dir_for(data_dir, network))


def snapshot(data_dir: str, network: str) -> tuple[list[tuple[str, str]], State | None, bool]:
    """(every (path, key), the index state, whether the index was used): the buckets when the
    marker is current, else every file."""
    data_dir = data_dir or DEFAULT_DATA_DIR
    net_dir = join_path(data_dir, network)
    idx = index_dir_for(data_dir, network)
    fd = -1
    try:
        fd = posix.open(net_dir + "/lock", posix.O_RDONLY | posix.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        pass
    try:
        state = _read_index_state(idx)
        st = posix.stat(net_dir)
        if state is None or state.mode != "index" or not state.matches(st):
            return scan_dir(net_dir), state, False
        out = [(unesc(p), unesc(k)) for b in range(BUCKETS) for k, p in read_bucket(idx, b)]
        out.sort(key=lambda e: walk_order(e[0]))
        return out, state, True
    finally:
        if fd >= 0:
            posix.close(fd)


def check_index(data_dir: str, network: str) -> tuple[bool, list[str]]:
    """For tests: (marker current?, differences between the buckets and a full scan)."""
    entries, state, fresh = snapshot(data_dir, network)
    if not fresh:
        return False, []
    truth = set(scan_dir(join_path(data_dir or DEFAULT_DATA_DIR, network)))
    got = set(entries)
    problems = [f"missing from index: {p!r} -> {k!r}" for p, k in sorted(truth - got)]
    problems += [f"stale in index: {p!r} -> {k!r}" for p, k in sorted(got - truth)]
    count = sum(1 for p, _ in truth if is_allocation(p))
    if state is not None and state.count != count:
        problems.append(f"count {state.count} != {count}")
    return True, problems
