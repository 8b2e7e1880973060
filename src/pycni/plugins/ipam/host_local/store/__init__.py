"""host-local's disk store: one network, opened for one command, under one flock.

The layout (layout.py) is the truth, shared with upstream's binary; the index (index.py) is a cache
beside it that is trusted only while its marker matches the network directory, else rebuilt from
one scan. Entries a command acts on are re-read and compared before use; a mismatch (an in-place
edit) rebuilds as well. Where the marker cannot be trusted (no index directory, a filesystem that
truncates timestamps) every command scans, as upstream does. Read-only views are in inspect.py.
"""

from __future__ import annotations

import fcntl
import posix

from pycni.gofmt import join_path, path_error
from pycni.spec import ipnet

from . import crash
from .gofs import make_dirs, mkdir_all, read_file
from .index import Index, describe_rangeset, index_dir_for
from .layout import (
    DEFAULT_DATA_DIR,
    LAST_IP_PREFIX,
    LINE_BREAK,
    Stager,
    go_trim,
    is_allocation,
    key_of,
    new_key,
    open_lock,
    read_last_reserved,
    scan_dir,
    walk_order,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..range import RangeSet

__all__ = ["DEFAULT_DATA_DIR", "LAST_IP_PREFIX", "LINE_BREAK", "Store", "go_trim"]

_COLLISIONS_BEFORE_LISTING = 64


class Store:
    """One network's store for one command (`phase`: add, del, check, gc): lock(), load(),
    lookups and changes, close()."""

    def __init__(self, network: str, data_dir: str = "", phase: str = "op") -> None:
        data_dir = data_dir or DEFAULT_DATA_DIR
        self.dir = join_path(data_dir, network)
        mkdir_all(self.dir, 0o755)  # (upstream's NewFileLock stat follows; it cannot fail after this)
        self.phase = phase
        self._lock_fd = open_lock(self.dir + "/lock")
        self._locked = False
        self.index = Index(index_dir_for(data_dir, network), phase)
        self.stager = Stager(self.dir, phase)
        self.mode = ""  # "index" (trusted buckets) or "scan" (everything from one scan, in memory)
        self._mutated = False  # the network directory changed during this command
        self._collisions = 0  # reservations that met an existing file
        self._names: set[str] | None = None  # the directory listing, once collisions pile up
        self._dir_stat: posix.stat_result | None = None

    # --- lock ---------------------------------------------------------------------------------

    def lock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._locked = True
        crash.kill_point(self.phase + ":locked")

    def close(self) -> None:
        """Write the index back (if anything changed), drop staging files, unlock, close."""
        try:
            if self._locked:
                self._commit()
        finally:
            self.stager.drop()
            if self._lock_fd >= 0:
                try:
                    if self._locked:
                        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                finally:
                    posix.close(self._lock_fd)
                    self._lock_fd = -1
                    self._locked = False

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- loading and rebuilding the index -----------------------------------------------------

    def load(self) -> None:
        """Trust the index if its marker matches the directory; else rescan and rebuild it."""
        st = self._dir_stat = posix.stat(self.dir)
        state = self.index.load_state()
        if state is not None and state.this_boot():
            if state.mode == "scan":
                self._scan_into_memory()
                return
            if state.matches(st):
                self.mode = "index"
                self.index.count = state.count
                self.stager.dir = self.index.dir + "/tmp"
                self.stager.clean()
                return
        self._rebuild()

    def _scan_into_memory(self) -> None:
        entries = scan_dir(self.dir, cleanup=True)
        self.index.fill(entries)
        self.index.count = sum(1 for rel, _ in entries if is_allocation(rel))
        self.mode = "scan"
        self.stager.dir = self.dir

    def _rebuild(self) -> None:
        """The rare path: read every file once, write all buckets, mark the index current."""
        self.index.drop_marker()
        self.stager.drop()  # a rebuild in mid-command empties the staging area
        self._scan_into_memory()
        crash.kill_point(self.phase + ":rebuild-scanned")
        try:
            make_dirs(self.index.dir + "/tmp", 0o700)
            self.stager.dir = self.index.dir + "/tmp"
            self.stager.clean()
            self.index.write_all()
        except OSError:
            self.mode = "scan"
            self.stager.dir = self.dir
            return
        self.mode = "index"

    # --- lookups ---------------------------------------------------------------------------------

    def _read_key(self, rel: str) -> str | None:
        try:
            return key_of(read_file(self.dir + "/" + rel))
        except OSError:
            return None

    def lookup(self, key: str) -> list[str]:
        """Files whose trimmed content is `key`, in walk order; index entries are re-checked."""
        paths = self.index.lookup(key)
        if self.mode == "index" and not self.index.all_loaded:
            for rel in paths:
                if self._read_key(rel) != key:
                    self._rebuild()
                    paths = self.index.lookup(key)
                    break
        if len(paths) > 1:
            paths.sort(key=walk_order)
        return paths

    def entries(self) -> list[tuple[str, str]]:
        """Every indexed (path, key), in walk order."""
        return self.index.entries()

    def get_by_id(self, container_id: str, ifname: str) -> list[ipnet.IP]:
        """GetByID: the IPs (file names) held under the new or the legacy key, in walk order."""
        tid = go_trim(container_id)
        paths = self.lookup(tid + LINE_BREAK + ifname) + self.lookup(tid)
        paths.sort(key=walk_order)
        out = []
        for rel in paths:
            ip = ipnet.parse_ip(rel.rsplit("/", 1)[-1])
            if ip is not None:
                out.append(ip)
        return out

    def find_by_id(self, container_id: str, ifname: str) -> bool:
        tid = go_trim(container_id)
        return bool(self.lookup(tid + LINE_BREAK + ifname)) or bool(self.lookup(tid))

    def count(self) -> int:
        return self.index.count

    def last_reserved_ip(self, range_id: str) -> ipnet.IP | None:
        """None when the file is missing or does not parse; ValueError for other read failures."""
        return read_last_reserved(self.dir, range_id)

    def set_ranges(self, ranges: Iterable[RangeSet]) -> None:
        """Record the configured range sets (for `pycni ipam show`) with the next index write."""
        desc = [f"{i} {describe_rangeset(rs)}" for i, rs in enumerate(ranges)]
        state = self.index.state
        if state is None or state.ranges != desc:
            self.index.ranges = desc

    # --- changes -----------------------------------------------------------------------------

    def reserve(self, container_id: str, ifname: str, ip: ipnet.IP, range_id: str) -> bool:
        """Reserve: create <ip> holding the key, all or nothing; False if it already exists.

        The content is written and fsynced in a staging file first, then hard-linked into place:
        link(2) fails on an existing name exactly like O_CREAT|O_EXCL, and nobody can ever see
        the file empty or half-written.
        """
        name = ipnet.ip_str(ip)
        if self._names is not None and name in self._names:
            return False
        key = new_key(container_id, ifname)
        if not self.stager.link_new(key, self.dir + "/" + name):
            self._collisions += 1
            if self._collisions >= _COLLISIONS_BEFORE_LISTING and self._names is None:
                self._names = set(posix.listdir(self.dir))
            return False
        self._mutated = True
        self.index.count += 1
        self.index.add(key, name)
        if self._names is not None:
            self._names.add(name)
        crash.kill_point(self.phase + ":linked")
        try:
            self.stager.replace(self.dir + "/" + LAST_IP_PREFIX + range_id, name.encode())
        except ValueError as exc:
            # All or nothing (upstream keeps the address reserved here, until a DEL that may never come).
            undo = self._unreserve(key, name)
            raise ValueError(str(exc) if undo is None else f"{exc}; the reservation stays: {undo}") from None
        crash.kill_point(self.phase + ":reserved")
        return True

    def _unreserve(self, key: str, name: str) -> str | None:
        """Take back a reservation this command just made; the error text if it cannot."""
        try:
            posix.unlink(self.dir + "/" + name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            return path_error("remove", self.dir + "/" + name, exc)
        self._unlinked(key, name)
        return None

    def _unlinked(self, key: str, rel: str) -> None:
        """Book-keeping after <rel> (holding `key`) was removed from the layout."""
        self._mutated = True
        if is_allocation(rel):
            self.index.count -= 1
            if self._names is not None:
                self._names.discard(rel)
        self.index.remove(key, rel)
        crash.kill_point(self.phase + ":unlinked")

    def _remove(self, key: str, rel: str) -> bool:
        """Unlink one file holding `key`: True if removed, False if already gone; ValueError (Go's
        `remove <path>: <errno>`) if it is still there. Upstream ignores that error, so its DEL
        reports success while the address stays reserved; pycni fails, and the runtime retries."""
        path = self.dir + "/" + rel
        try:
            posix.unlink(path)
        except FileNotFoundError:
            self.index.remove(key, rel)  # a foreign writer removed it: the entry is stale
            self._mutated = True
            return False
        except OSError as exc:
            raise ValueError(path_error("remove", path, exc)) from None
        self._unlinked(key, rel)
        return True

    def _release_key(self, key: str) -> bool:
        """Remove every file holding `key`; True if there were any. All are tried before an error."""
        found = False
        errs = []
        for rel in self.lookup(key):
            try:
                found = self._remove(key, rel) or found
            except ValueError as exc:
                errs.append(str(exc))
        if errs:
            raise ValueError("failed to release: " + "; ".join(errs))
        return found

    def release_by_id(self, container_id: str, ifname: str) -> None:
        """ReleaseByID: every file of (id, ifname); if there were none, every legacy id-only file."""
        tid = go_trim(container_id)
        if not self._release_key(tid + LINE_BREAK + ifname):
            self._release_key(tid)

    def release(self, rel: str, key: str) -> bool:
        """Remove one allocation file after checking it still holds `key` (GC); ValueError if it stays."""
        if self._read_key(rel) != key:
            return False
        return self._remove(key, rel)

    # --- writing the index back --------------------------------------------------------------

    def _commit(self) -> None:
        if self.mode != "index" or not (self._mutated or self.index.pending()):
            return
        assert self._dir_stat is not None
        try:
            self.index.commit(self.dir, self._dir_stat, self.stager)
        except OSError:
            self.index.drop_marker()  # the index is only a cache: without a marker the next command rescans
            return
        crash.kill_point(self.phase + ":committed")
