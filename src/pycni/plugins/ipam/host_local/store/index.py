"""host-local's index: a cache beside upstream's layout that makes ADD/DEL/CHECK cost flat.

  <dataDir>/.pycni-index/<net>/state    generation marker: boot id + the dev/ino/mtime/ctime the
                                        network directory had after pycni's last change, the
                                        allocation count, the range sets (for `pycni ipam show`)
  <dataDir>/.pycni-index/<net>/keys/XX  251 buckets of "<key> <path>" lines; key = the trimmed
                                        content of an allocation file (key bytes mod 251 pick XX)
  <dataDir>/.pycni-index/<net>/tmp/     staging for atomic writes
It lives beside <net>, never inside (upstream walks <net> recursively and would read it);
directories 0700, files 0600 (it names containers, like the allocation files). After every change
the network directory's mtime is stamped with a unique nanosecond value and recorded. Any later
create/unlink/rename there (upstream's binary, an admin, a crash halfway through one of ours)
moves mtime/ctime on, so the marker no longer matches and the next command rescans once and
rebuilds the buckets. A reboot (new boot id) also rebuilds, so the index itself needs no fsync.
Never the truth: losing any of it costs one rescan, never an allocation.
"""

from __future__ import annotations

import posix
import time

from pycni.gofmt import join_path

from ..range import ip_text
from . import crash
from .gofs import make_dirs, read_file, remove_tree, unlink_quietly
from .layout import DEFAULT_DATA_DIR, walk_order

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..range import RangeSet
    from .layout import Stager

INDEX_DIR = ".pycni-index"
STATE_MAGIC = "pycni-host-local-index 1"
BUCKETS = 251  # a prime

_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
_DROP_SAFE = str.maketrans("", "", _SAFE)


def esc(s: str) -> str:
    """Bucket-line encoding: safe characters kept, the rest as %XX of their UTF-8 bytes."""
    if not s.translate(_DROP_SAFE):
        return s
    out = []
    for ch in s:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
    return "".join(out)


def unesc(s: str) -> str:
    if "%" not in s:
        return s
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "%":
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
        else:
            out += s[i].encode()
            i += 1
    return out.decode("utf-8", "surrogateescape")


def bucket_of(ekey: str) -> int:
    # The key's bytes as one integer, modulo a prime: cheap, stable across processes, well spread.
    return int.from_bytes(ekey.encode(), "little") % BUCKETS


def index_dir_for(data_dir: str, network: str) -> str:
    return join_path(data_dir or DEFAULT_DATA_DIR, INDEX_DIR, network)


_BOOT_ID: list[str] = []


def boot_id() -> str:
    if not _BOOT_ID:
        try:
            _BOOT_ID.append(read_file("/proc/sys/kernel/random/boot_id").decode("ascii", "replace").strip())
        except OSError:
            _BOOT_ID.append("")
    return _BOOT_ID[0]


def _unique_ns() -> int:
    """A timestamp no kernel update will reproduce: now, with random sub-millisecond digits."""
    now = time.time_ns()
    return now - now % 1_000_000 + int.from_bytes(posix.urandom(3), "big") % 1_000_000


class State:
    """The marker file: when the buckets can be trusted, and what `ipam show` reports."""

    __slots__ = ("boot", "dev", "ino", "mtime", "ctime", "count", "mode", "ranges")

    def __init__(self) -> None:
        self.boot = ""
        self.dev = self.ino = self.mtime = self.ctime = -1
        self.count = 0
        self.mode = "index"
        self.ranges: list[str] = []

    def this_boot(self) -> bool:
        """Written since the last reboot (else nothing in the index is trusted)."""
        return self.boot == boot_id()

    def matches(self, st: posix.stat_result) -> bool:
        """The network directory is as pycni's last change left it (same boot, same inode, times)."""
        return (self.this_boot()
                and (self.dev, self.ino, self.mtime, self.ctime)
                == (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))

    def dumps(self) -> str:
        lines = [STATE_MAGIC, f"boot {self.boot}", f"dir {self.dev} {self.ino} {self.mtime} {self.ctime}",
                 f"count {self.count}", f"mode {self.mode}"]
        lines += [f"set {r}" for r in self.ranges]
        return "\n".join(lines) + "\n"

    @classmethod
    def loads(cls, text: str) -> State | None:
        lines = text.split("\n")
        if not lines or lines[0] != STATE_MAGIC:
            return None
        s = cls()
        try:
            for line in lines[1:]:
                k, _, v = line.partition(" ")
                if k == "boot":
                    s.boot = v
                elif k == "dir":
                    s.dev, s.ino, s.mtime, s.ctime = (int(x) for x in v.split())
                elif k == "count":
                    s.count = int(v)
                elif k == "mode":
                    s.mode = v
                elif k == "set":
                    s.ranges.append(v)
        except ValueError:
            return None
        return s


def read_state(index_dir: str) -> State | None:
    try:
        return State.loads(read_file(index_dir + "/state").decode("utf-8", "replace"))
    except OSError:
        return None


def read_bucket(index_dir: str, b: int) -> list[list[str]]:
    """One bucket file as [escaped key, escaped path] pairs; a missing file is an empty bucket."""
    try:
        text = read_file(f"{index_dir}/keys/{b:02x}").decode("ascii", "replace")
    except OSError:
        return []
    out = []
    for line in text.split("\n"):
        if line:
            k, _, p = line.partition(" ")
            out.append([k, p])
    return out


def describe_rangeset(rs: RangeSet) -> str:
    """One range set for the state file: subnet|start|end|gateway per range, comma-joined."""
    return ",".join(f"{r.subnet_text()}|{ip_text(r.start)}|{ip_text(r.end)}|{ip_text(r.gateway)}" for r in rs)


class Index:
    """One network's buckets as one command sees them: read lazily, changed in memory, written back
    by commit(). Entries are escaped (esc) in memory as on disk."""

    __slots__ = ("dir", "phase", "state", "count", "ranges", "_buckets", "_all_loaded", "_dirty",
                 "_write_state")

    def __init__(self, index_dir: str, phase: str) -> None:
        self.dir = index_dir
        self.phase = phase
        self.state: State | None = None  # the marker as this command found it
        self.count = 0  # allocation files, as the next marker will record
        self.ranges: list[str] | None = None  # range-set descriptions to record, when they changed
        self._buckets: dict[int, list[list[str]]] = {}
        self._all_loaded = False  # every bucket is in memory (after a scan or rebuild)
        self._dirty: set[int] = set()
        self._write_state = False  # the buckets were rebuilt: the marker must be written

    @property
    def all_loaded(self) -> bool:
        return self._all_loaded

    def load_state(self) -> State | None:
        self.state = read_state(self.dir)
        return self.state

    def fill(self, entries: list[tuple[str, str]]) -> None:
        """Replace everything in memory with a scan's (path, key) entries."""
        self._buckets = {}
        for rel, key in entries:
            ek = esc(key)
            self._buckets.setdefault(bucket_of(ek), []).append([ek, esc(rel)])
        self._all_loaded = True
        self._dirty = set()

    def drop_marker(self) -> None:
        """Without a marker the buckets are never trusted: the next command rescans."""
        unlink_quietly(self.dir + "/state")

    def write_all(self) -> None:
        """Write every bucket as a new keys/ directory swapped in whole; the marker follows at commit."""
        base = self.dir
        new = f"{base}/keys.new.{posix.getpid()}"
        for leftover in posix.listdir(base):
            if leftover.startswith("keys."):
                remove_tree(base + "/" + leftover)
        posix.mkdir(new, 0o700)
        for b, lines in self._buckets.items():
            if lines:
                fd = posix.open(f"{new}/{b:02x}", posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC,
                                0o600)
                try:
                    posix.write(fd, "".join(f"{k} {p}\n" for k, p in lines).encode("ascii"))
                finally:
                    posix.close(fd)
        old = f"{base}/keys.old.{posix.getpid()}"
        try:
            posix.rename(base + "/keys", old)
        except FileNotFoundError:
            old = ""
        posix.rename(new, base + "/keys")
        crash.kill_point(self.phase + ":rebuild-swapped")
        if old:
            remove_tree(old)
        self._write_state = True

    def _bucket(self, b: int) -> list[list[str]]:
        lines = self._buckets.get(b)
        if lines is None:
            lines = [] if self._all_loaded else read_bucket(self.dir, b)
            self._buckets[b] = lines
        return lines

    def lookup(self, key: str) -> list[str]:
        """Paths indexed under `key`, in bucket order."""
        ek = esc(key)
        return [unesc(p) for k, p in self._bucket(bucket_of(ek)) if k == ek]

    def entries(self) -> list[tuple[str, str]]:
        """Every indexed (path, key), in walk order."""
        out = []
        for b in range(BUCKETS):
            for k, p in self._bucket(b):
                out.append((unesc(p), unesc(k)))
        out.sort(key=lambda e: walk_order(e[0]))
        return out

    def add(self, key: str, rel: str) -> None:
        ek = esc(key)
        b = bucket_of(ek)
        self._bucket(b).append([ek, esc(rel)])
        self._dirty.add(b)

    def remove(self, key: str, rel: str) -> None:
        ek, er = esc(key), esc(rel)
        b = bucket_of(ek)
        lines = self._bucket(b)
        keep = [kp for kp in lines if not (kp[0] == ek and kp[1] == er)]
        if len(keep) != len(lines):
            self._buckets[b] = keep
            self._dirty.add(b)

    def pending(self) -> bool:
        return bool(self._dirty) or self._write_state or self.ranges is not None

    def commit(self, net_dir: str, dir_stat: posix.stat_result, stager: Stager) -> None:
        """Buckets first, rewritten in place (no new inode per command), then the marker, atomically.

        In-place is safe here because a bucket is only trusted through the marker: a command that
        dirties a bucket has already changed the network directory (or, rebuilding, removed the
        marker), so a kill before the marker is renamed into place leaves a stale marker and the
        next command rebuilds. Raises OSError; the caller then drops the marker.
        """
        kdir = self.dir + "/keys"
        for b in sorted(self._dirty):
            lines = self._buckets.get(b) or []
            path = f"{kdir}/{b:02x}"
            if not lines:
                try:
                    posix.unlink(path)
                except FileNotFoundError:
                    pass
                continue
            data = "".join(f"{k} {p}\n" for k, p in lines).encode("ascii")
            try:
                fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                make_dirs(kdir, 0o700)
                fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
            try:
                posix.write(fd, data)
                posix.ftruncate(fd, len(data))
            finally:
                posix.close(fd)
        self._dirty = set()
        crash.kill_point(self.phase + ":buckets-written")
        stamp = _unique_ns()
        try:
            posix.utime(net_dir, ns=(dir_stat.st_atime_ns, stamp))
        except PermissionError:
            pass  # not the directory's owner: the mismatch below turns the index off
        st = posix.stat(net_dir)
        state = State()
        state.boot = boot_id()
        state.dev, state.ino, state.mtime, state.ctime = st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns
        state.count = self.count
        if st.st_mtime_ns != stamp:
            state.mode = "scan"  # no unique stamp (truncated timestamps, not the owner): scan each time
        if self.ranges is not None:
            state.ranges = self.ranges
        elif self.state is not None:
            state.ranges = self.state.ranges
        tmp = stager.stage(state.dumps().encode("utf-8", "surrogateescape"), 0o600, False)
        posix.rename(tmp, self.dir + "/state")
