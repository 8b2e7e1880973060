"""host-local's disk store: upstream's on-disk layout, one flock per network, plus an index.

The reference layout is the truth, shared with upstream's binary:
  <dataDir>/<net>/<ip>                  "<id>\\r\\n<ifname>" (0600), one file per reserved address
  <dataDir>/<net>/last_reserved_ip.<N>  the address last reserved from range set N
  <dataDir>/<net>/lock                  flock(LOCK_EX) on it, held for the whole command
The index is a cache beside it, never inside (upstream walks <net> recursively and would read it):
  <dataDir>/.pycni-index/<net>/state    generation marker: boot id + the dev/ino/mtime/ctime the
                                        network directory had after pycni's last change, the
                                        allocation count, the range sets (for `pycni ipam show`)
  <dataDir>/.pycni-index/<net>/keys/XX  251 buckets of "<key> <path>" lines; key = the trimmed
                                        content of an allocation file (key bytes mod 251 pick XX)
  <dataDir>/.pycni-index/<net>/tmp/     staging for atomic writes
(directories 0700, files 0600: the index names containers, like the 0600 allocation files)
After every change pycni stamps the network directory's mtime with a unique nanosecond value and
records it. Any later create/unlink/rename there (upstream's binary, an admin, a crash halfway
through one of ours) moves mtime/ctime on, so the marker no longer matches and the next command
rescans once and rebuilds the buckets. A reboot (new boot id) also rebuilds, so the index itself
needs no fsync. Entries a command acts on are re-read and compared before use; a mismatch (an
in-place edit) rebuilds as well. Where the marker cannot be trusted (no index directory, a
filesystem that truncates timestamps) every command scans, as upstream does.
"""

from __future__ import annotations

import errno
import fcntl
import posix
import time

from pycni.spec import ipnet

from .errors import GoError, errno_text, go_path_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from .range import RangeSet

    IP = tuple[int, int]

DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LAST_IP_PREFIX = "last_reserved_ip."
LINE_BREAK = "\r\n"
INDEX_DIR = ".pycni-index"
TMP_PREFIX = ".pycni-tmp."  # staging files inside <net>, only when <net> is another filesystem
STATE_MAGIC = "pycni-host-local-index 1"
BUCKETS = 251  # a prime
_COLLISIONS_BEFORE_LISTING = 64

# Go's unicode.IsSpace set, for strings.TrimSpace.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
_DROP_SAFE = str.maketrans("", "", _SAFE)

# Test-only: PYCNI_TEST_KILL_AT=<step> makes the process SIGKILL itself at that named step.
KILL_AT = posix.environ.get(b"PYCNI_TEST_KILL_AT", b"").decode() or None


def kill_point(step: str) -> None:
    if KILL_AT == step:
        posix.kill(posix.getpid(), 9)


def go_trim(s: str) -> str:
    return s.strip(_GO_SPACE)


def new_key(container_id: str, ifname: str) -> str:
    return go_trim(container_id) + LINE_BREAK + ifname


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


def _bucket_of(ekey: str) -> int:
    # The key's bytes as one integer, modulo a prime: cheap, stable across processes, well spread.
    return int.from_bytes(ekey.encode(), "little") % BUCKETS


def _walk_order(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/"))


def _read(path: str) -> bytes:
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        data = posix.read(fd, 65536)
        if len(data) == 65536:
            chunks = [data]
            while True:
                b = posix.read(fd, 1 << 20)
                if not b:
                    break
                chunks.append(b)
            data = b"".join(chunks)
        return data
    finally:
        posix.close(fd)


def _key_of(data: bytes) -> str:
    return go_trim(data.decode("utf-8", "surrogateescape"))


def _is_allocation(rel: str) -> bool:
    """A top-level file whose name is an IP: what GetByID, GC, STATUS and `ipam show` count."""
    return "/" not in rel and ipnet.parse_ip(rel) is not None


def clean_path(p: str) -> str:
    """Go's filepath.Clean: no empty, `.` or `..` elements (a rooted path drops `..` at the root)."""
    if not p:
        return "."
    rooted = p[0] == "/"
    out: list[str] = []
    for part in p.split("/"):
        if not part or part == ".":
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
                continue
            if rooted:
                continue
        out.append(part)
    joined = "/".join(out)
    return "/" + joined if rooted else joined or "."


def go_join(*parts: str) -> str:
    """Go's filepath.Join: the non-empty parts joined with `/`, cleaned (an absolute part does not reset)."""
    kept = [p for p in parts if p]
    return clean_path("/".join(kept)) if kept else ""


def _mkdir_all(path: str, mode: int) -> None:
    """Go's os.MkdirAll without `os`: an OSError names (in .filename) the path that failed."""
    try:
        st = posix.stat(path)
    except OSError:
        st = None
    if st is not None:
        if (st.st_mode & 0o170000) == 0o040000:
            return
        raise NotADirectoryError(errno.ENOTDIR, posix.strerror(errno.ENOTDIR), path)
    i = len(path)
    while i > 0 and path[i - 1] == "/":
        i -= 1
    j = i
    while j > 0 and path[j - 1] != "/":
        j -= 1
    if j > 1:
        _mkdir_all(path[: j - 1] or "/", mode)
    try:
        posix.mkdir(path, mode)
    except OSError:
        try:
            if (posix.lstat(path).st_mode & 0o170000) == 0o040000:
                return
        except OSError:
            pass
        raise


def mkdir_all(path: str, mode: int) -> None:
    """os.MkdirAll with Go's error text (`mkdir <the failing path>: <errno>`)."""
    try:
        _mkdir_all(path, mode)
    except OSError as exc:
        raise go_path_error("mkdir", exc.filename or path, exc) from None


def scan_dir(root: str, cleanup: bool = False) -> list[tuple[str, str]]:
    """Every file under `root` as upstream's filepath.Walk sees it: (relative path, trimmed content).

    The top-level `lock` and `last_reserved_ip.*` are left out: upstream also compares their content
    with a key, so a container whose ID is exactly the last reserved IP could match (and, on DEL,
    delete) `last_reserved_ip.N`; pycni does not reproduce that accident. Directories are descended,
    unreadable files skipped, as filepath.Walk does.
    """
    out: list[tuple[str, str]] = []

    def walk(path: str, prefix: str) -> None:
        try:
            with posix.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            name = e.name
            if not prefix:
                if name == "lock" or name.startswith(LAST_IP_PREFIX):
                    continue
                if name.startswith(TMP_PREFIX):
                    if cleanup:
                        try:
                            posix.unlink(e.path)
                        except OSError:
                            pass
                    continue
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                walk(e.path, prefix + name + "/")
                continue
            try:
                data = _read(e.path)
            except OSError:
                continue
            out.append((prefix + name, _key_of(data)))

    walk(root, "")
    return out


_BOOT_ID: list[str] = []


def boot_id() -> str:
    if not _BOOT_ID:
        try:
            _BOOT_ID.append(_read("/proc/sys/kernel/random/boot_id").decode("ascii", "replace").strip())
        except OSError:
            _BOOT_ID.append("")
    return _BOOT_ID[0]


def _unique_ns() -> int:
    """A timestamp no kernel update will reproduce: now, with random sub-millisecond digits."""
    now = time.time_ns()
    return now - now % 1_000_000 + int.from_bytes(posix.urandom(3), "big") % 1_000_000


class State:
    __slots__ = ("boot", "dev", "ino", "mtime", "ctime", "count", "mode", "ranges")

    def __init__(self) -> None:
        self.boot = ""
        self.dev = self.ino = self.mtime = self.ctime = -1
        self.count = 0
        self.mode = "index"
        self.ranges: list[str] = []

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


def describe_rangeset(rs: RangeSet) -> str:
    """One range set for the state file: subnet|start|end|gateway per range, comma-joined."""
    from .range import ip_text

    return ",".join(f"{r.subnet_text()}|{ip_text(r.start)}|{ip_text(r.end)}|{ip_text(r.gateway)}" for r in rs)


def index_dir_for(data_dir: str, network: str) -> str:
    return go_join(data_dir or DEFAULT_DATA_DIR, INDEX_DIR, network)


class Store:
    """One network's store, opened for one command: lock(), load(), operations, close()."""

    def __init__(self, network: str, data_dir: str = "") -> None:
        data_dir = data_dir or DEFAULT_DATA_DIR
        self.dir = go_join(data_dir, network)
        mkdir_all(self.dir, 0o755)  # (upstream's NewFileLock stat follows; it cannot fail after this)
        self.lock_path = self.dir + "/lock"
        try:
            self._lock_fd = posix.open(self.lock_path, posix.O_CREAT | posix.O_RDONLY | posix.O_CLOEXEC, 0o750)
        except OSError as exc:
            raise GoError(errno_text(exc)) from None  # go-filemutex returns the bare errno
        self.index_dir = index_dir_for(data_dir, network)
        self.phase = "op"
        self.mode = ""  # "index" (trusted buckets) or "scan" (everything from one scan, in memory)
        self._locked = False
        self._buckets: dict[int, list[list[str]]] = {}
        self._all_loaded = False  # every bucket is in memory (after a scan or rebuild)
        self._dirty: set[int] = set()
        self._mutated = False  # the network directory changed during this command
        self._write_state = False
        self._state: State | None = None
        self._count = 0
        self._ranges: list[str] | None = None
        self._stage = ""  # where staging files go: index tmp dir, or <net> itself
        self._seq = 0
        self._ip_tmp: tuple[str, str] | None = None  # (key, path) of a staged allocation file
        self._collisions = 0
        self._names: set[str] | None = None
        self._dir_stat: posix.stat_result | None = None

    # --- lock ---------------------------------------------------------------------------------

    def lock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._locked = True

    def close(self) -> None:
        """Write the index back (if anything changed), drop staging files, unlock, close."""
        try:
            if self._locked:
                self._commit()
        finally:
            self._drop_ip_tmp()
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
        state = None
        try:
            state = State.loads(_read(self.index_dir + "/state").decode("utf-8", "replace"))
        except OSError:
            pass
        self._state = state
        if state is not None and state.boot == boot_id():
            if state.mode == "scan":
                self._scan_into_memory()
                return
            if (state.dev, state.ino, state.mtime, state.ctime) == (st.st_dev, st.st_ino, st.st_mtime_ns,
                                                                      st.st_ctime_ns):
                self.mode = "index"
                self._count = state.count
                self._stage = self.index_dir + "/tmp"
                self._clean_stage()
                return
        self._rebuild()

    def _clean_stage(self) -> None:
        # Under the lock every staged file is garbage from a killed command.
        try:
            names = posix.listdir(self._stage)
        except OSError:
            return
        for n in names:
            try:
                posix.unlink(self._stage + "/" + n)
            except OSError:
                pass

    def _scan_into_memory(self) -> list[tuple[str, str]]:
        entries = scan_dir(self.dir, cleanup=True)
        self._buckets = {}
        for rel, key in entries:
            ek = esc(key)
            self._buckets.setdefault(_bucket_of(ek), []).append([ek, esc(rel)])
        self._all_loaded = True
        self._dirty = set()
        self._count = sum(1 for rel, _ in entries if _is_allocation(rel))
        self.mode = "scan"
        self._stage = self.dir
        return entries

    def _rebuild(self) -> None:
        """The rare path: read every file once, write all buckets, mark the index current."""
        try:
            posix.unlink(self.index_dir + "/state")
        except OSError:
            pass
        self._drop_ip_tmp()  # a rebuild in mid-command empties the staging area
        self._scan_into_memory()
        if KILL_AT:
            kill_point(f"{self.phase}:rebuild-scanned")
        try:
            _mkdir_all(self.index_dir + "/tmp", 0o700)
            self._stage = self.index_dir + "/tmp"
            self._clean_stage()
            self._swap_in_buckets()
        except OSError:
            self.mode = "scan"
            self._stage = self.dir
            return
        self.mode = "index"
        self._write_state = True

    def _swap_in_buckets(self) -> None:
        base = self.index_dir
        new = f"{base}/keys.new.{posix.getpid()}"
        for leftover in posix.listdir(base):
            if leftover.startswith("keys."):
                _rmtree(base + "/" + leftover)
        posix.mkdir(new, 0o700)
        for b, lines in self._buckets.items():
            if lines:
                fd = posix.open(f"{new}/{b:02x}", posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600)
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
        if KILL_AT:
            kill_point(f"{self.phase}:rebuild-swapped")
        if old:
            _rmtree(old)

    def _bucket(self, b: int) -> list[list[str]]:
        lines = self._buckets.get(b)
        if lines is None:
            lines = []
            if not self._all_loaded:
                try:
                    text = _read(f"{self.index_dir}/keys/{b:02x}").decode("ascii", "replace")
                except OSError:
                    text = ""
                for line in text.split("\n"):
                    if line:
                        k, _, p = line.partition(" ")
                        lines.append([k, p])
            self._buckets[b] = lines
        return lines

    # --- lookups ---------------------------------------------------------------------------------

    def _lookup(self, key: str) -> list[str]:
        ek = esc(key)
        return [unesc(p) for k, p in self._bucket(_bucket_of(ek)) if k == ek]

    def _read_key(self, rel: str) -> str | None:
        try:
            return _key_of(_read(self.dir + "/" + rel))
        except OSError:
            return None

    def lookup(self, key: str) -> list[str]:
        """Files whose trimmed content is `key`, in walk order; index entries are re-checked."""
        paths = self._lookup(key)
        if self.mode == "index" and not self._all_loaded:
            for rel in paths:
                if self._read_key(rel) != key:
                    self._rebuild()
                    paths = self._lookup(key)
                    break
        if len(paths) > 1:
            paths.sort(key=_walk_order)
        return paths

    def entries(self) -> list[tuple[str, str]]:
        """Every indexed (path, key), in walk order."""
        out = []
        for b in range(BUCKETS):
            for k, p in self._bucket(b):
                out.append((unesc(p), unesc(k)))
        out.sort(key=lambda e: _walk_order(e[0]))
        return out

    def get_by_id(self, container_id: str, ifname: str) -> list[IP]:
        """GetByID: the IPs (file names) held under the new or the legacy key, in walk order."""
        tid = go_trim(container_id)
        paths = self.lookup(tid + LINE_BREAK + ifname) + self.lookup(tid)
        paths.sort(key=_walk_order)
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
        return self._count

    def last_reserved_ip(self, range_id: str) -> IP | None:
        """None when the file is missing or does not parse; GoError for other read failures."""
        path = self.dir + "/" + LAST_IP_PREFIX + range_id
        try:
            data = _read(path)
        except FileNotFoundError:
            return None
        except IsADirectoryError as exc:
            raise go_path_error("read", path, exc) from None
        except OSError as exc:
            raise go_path_error("open", path, exc) from None
        return ipnet.parse_ip(data.decode("utf-8", "replace"))

    def set_ranges(self, ranges: Iterable[RangeSet]) -> None:
        """Record the configured range sets (for `pycni ipam show`) with the next index write."""
        desc = [f"{i} {describe_rangeset(rs)}" for i, rs in enumerate(ranges)]
        if self._state is None or self._state.ranges != desc:
            self._ranges = desc

    # --- changes -----------------------------------------------------------------------------

    def _add_entry(self, key: str, rel: str) -> None:
        ek = esc(key)
        b = _bucket_of(ek)
        self._bucket(b).append([ek, esc(rel)])
        self._dirty.add(b)

    def _remove_entry(self, key: str, rel: str) -> None:
        ek, er = esc(key), esc(rel)
        b = _bucket_of(ek)
        lines = self._bucket(b)
        keep = [kp for kp in lines if not (kp[0] == ek and kp[1] == er)]
        if len(keep) != len(lines):
            self._buckets[b] = keep
            self._dirty.add(b)

    def _stage_file(self, data: bytes, mode: int, sync: bool) -> str:
        self._seq += 1
        prefix = "" if self._stage != self.dir else TMP_PREFIX
        path = f"{self._stage}/{prefix}{posix.getpid()}.{self._seq}"
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC
        try:
            fd = posix.open(path, flags, mode)
        except FileNotFoundError:
            if self._stage == self.dir:
                raise
            try:
                _mkdir_all(self._stage, 0o700)  # someone removed the index under us
            except OSError:
                self._stage = self.dir  # stage beside the files instead
                return self._stage_file(data, mode, sync)
            fd = posix.open(path, flags, mode)
        try:
            posix.write(fd, data)
            if sync:
                posix.fsync(fd)
        finally:
            posix.close(fd)
        return path

    def _drop_ip_tmp(self) -> None:
        if self._ip_tmp is not None:
            try:
                posix.unlink(self._ip_tmp[1])
            except OSError:
                pass
            self._ip_tmp = None

    def reserve(self, container_id: str, ifname: str, ip: IP, range_id: str) -> bool:
        """Reserve: create <ip> holding the key, all or nothing; False if it already exists.

        The content is written and fsynced in a staging file first, then hard-linked into place:
        link(2) fails on an existing name exactly like O_CREAT|O_EXCL, and nobody can ever see
        the file empty or half-written.
        """
        name = ipnet.ip_str(ip)
        if self._names is not None and name in self._names:
            return False
        key = new_key(container_id, ifname)
        target = self.dir + "/" + name
        for _attempt in range(2):
            if self._ip_tmp is None or self._ip_tmp[0] != key:
                self._drop_ip_tmp()
                try:
                    self._ip_tmp = (key, self._stage_file(key.encode("utf-8", "surrogateescape"), 0o600, True))
                except OSError as exc:
                    raise go_path_error("open", target, exc) from None
                if KILL_AT:
                    kill_point(f"{self.phase}:staged")
            try:
                posix.link(self._ip_tmp[1], target)
                break
            except FileExistsError:
                self._collisions += 1
                if self._collisions >= _COLLISIONS_BEFORE_LISTING and self._names is None:
                    self._names = set(posix.listdir(self.dir))
                return False
            except OSError as exc:
                if exc.errno == errno.EXDEV and self._stage != self.dir:
                    self._drop_ip_tmp()
                    self._stage = self.dir
                    continue
                raise go_path_error("open", target, exc) from None
        self._mutated = True
        self._drop_ip_tmp()  # the staged name now shares the inode: never reuse it
        self._count += 1
        self._add_entry(key, name)
        if self._names is not None:
            self._names.add(name)
        if KILL_AT:
            kill_point(f"{self.phase}:linked")
        self._write_last_reserved(range_id, name)
        if KILL_AT:
            kill_point(f"{self.phase}:reserved")
        return True

    def _write_last_reserved(self, range_id: str, name: str) -> None:
        final = self.dir + "/" + LAST_IP_PREFIX + range_id
        for _attempt in range(2):
            try:
                tmp = self._stage_file(name.encode(), 0o600, True)
            except OSError as exc:
                raise go_path_error("open", final, exc) from None
            try:
                posix.rename(tmp, final)
                return
            except OSError as exc:
                try:
                    posix.unlink(tmp)
                except OSError:
                    pass
                if exc.errno == errno.EXDEV and self._stage != self.dir:
                    self._stage = self.dir
                    continue
                raise go_path_error("open", final, exc) from None

    def _release_key(self, key: str) -> bool:
        found = False
        for rel in self.lookup(key):
            try:
                posix.unlink(self.dir + "/" + rel)
            except OSError:
                continue
            found = True
            self._mutated = True
            if _is_allocation(rel):
                self._count -= 1
                if self._names is not None:
                    self._names.discard(rel)
            self._remove_entry(key, rel)
            if KILL_AT:
                kill_point(f"{self.phase}:unlinked")
        return found

    def release_by_id(self, container_id: str, ifname: str) -> None:
        """ReleaseByID: every file of (id, ifname); if there were none, every legacy id-only file."""
        tid = go_trim(container_id)
        if not self._release_key(tid + LINE_BREAK + ifname):
            self._release_key(tid)

    def release(self, rel: str, key: str) -> bool:
        """Remove one allocation file after checking it still holds `key` (GC)."""
        if self._read_key(rel) != key:
            return False
        try:
            posix.unlink(self.dir + "/" + rel)
        except OSError:
            return False
        self._mutated = True
        if _is_allocation(rel):
            self._count -= 1
        self._remove_entry(key, rel)
        if KILL_AT:
            kill_point(f"{self.phase}:unlinked")
        return True

    # --- writing the index back --------------------------------------------------------------

    def _commit(self) -> None:
        """Buckets first, rewritten in place (no new inode per command), then the marker, atomically.

        In-place is safe here because a bucket is only trusted through the marker: a command that
        dirties a bucket has already changed the network directory (or, rebuilding, removed the
        marker), so a kill before the marker is renamed into place leaves a stale marker and the
        next command rebuilds.
        """
        if self.mode != "index":
            return
        if not (self._mutated or self._dirty or self._write_state or self._ranges is not None):
            return
        kdir = self.index_dir + "/keys"
        try:
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
                    _mkdir_all(kdir, 0o700)
                    fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
                try:
                    posix.write(fd, data)
                    posix.ftruncate(fd, len(data))
                finally:
                    posix.close(fd)
            self._dirty = set()
            if KILL_AT:
                kill_point(f"{self.phase}:buckets-written")
            st = self._dir_stat
            stamp = _unique_ns()
            try:
                posix.utime(self.dir, ns=(st.st_atime_ns, stamp))
            except PermissionError:
                pass  # not the directory's owner: the mismatch below turns the index off
            st = posix.stat(self.dir)
            state = State()
            state.boot = boot_id()
            state.dev, state.ino, state.mtime, state.ctime = st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns
            state.count = self._count
            if st.st_mtime_ns != stamp:
                state.mode = "scan"  # no unique stamp (truncated timestamps, not the owner): scan each time
            if self._ranges is not None:
                state.ranges = self._ranges
            elif self._state is not None:
                state.ranges = self._state.ranges
            tmp = self._stage_file(state.dumps().encode("utf-8", "surrogateescape"), 0o600, False)
            posix.rename(tmp, self.index_dir + "/state")
        except OSError:
            # The index is only a cache: without a fresh marker the next command rescans.
            try:
                posix.unlink(self.index_dir + "/state")
            except OSError:
                pass
            return
        if KILL_AT:
            kill_point(f"{self.phase}:committed")


def _rmtree(path: str) -> None:
    try:
        names = posix.listdir(path)
    except NotADirectoryError:
        posix.unlink(path)
        return
    except FileNotFoundError:
        return
    for n in names:
        p = path + "/" + n
        try:
            posix.unlink(p)
        except IsADirectoryError:
            _rmtree(p)
        except FileNotFoundError:
            pass
    try:
        posix.rmdir(path)
    except FileNotFoundError:
        pass


def read_state(data_dir: str, network: str) -> State | None:
    try:
        return State.loads(_read(index_dir_for(data_dir, network) + "/state").decode("utf-8", "replace"))
    except OSError:
        return None


def snapshot(data_dir: str, network: str) -> tuple[list[tuple[str, str]], State | None, bool]:
    """A read-only view for tools: (every (path, key), the index state, whether the index was used).

    Takes the network lock shared (waits for a running command, blocks none of the readers),
    creates nothing, and reads the buckets when the marker is current, else every file.
    """
    data_dir = data_dir or DEFAULT_DATA_DIR
    net_dir = go_join(data_dir, network)
    idx = index_dir_for(data_dir, network)
    fd = -1
    try:
        fd = posix.open(net_dir + "/lock", posix.O_RDONLY | posix.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        pass
    try:
        state = read_state(data_dir, network)
        st = posix.stat(net_dir)
        fresh = (state is not None and state.mode == "index" and state.boot == boot_id()
                 and (state.dev, state.ino, state.mtime, state.ctime)
                 == (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
        if not fresh:
            return scan_dir(net_dir), state, False
        out = []
        for b in range(BUCKETS):
            try:
                text = _read(f"{idx}/keys/{b:02x}").decode("ascii", "replace")
            except OSError:
                continue
            for line in text.split("\n"):
                if line:
                    k, _, p = line.partition(" ")
                    out.append((unesc(p), unesc(k)))
        out.sort(key=lambda e: _walk_order(e[0]))
        return out, state, True
    finally:
        if fd >= 0:
            posix.close(fd)


def check_index(data_dir: str, network: str) -> tuple[bool, list[str]]:
    """For tests: (marker current?, differences between the buckets and a full scan)."""
    entries, _state, fresh = snapshot(data_dir, network)
    if not fresh:
        return False, []
    truth = set(scan_dir(go_join(data_dir or DEFAULT_DATA_DIR, network)))
    got = set(entries)
    problems = [f"missing from index: {p!r} -> {k!r}" for p, k in sorted(truth - got)]
    problems += [f"stale in index: {p!r} -> {k!r}" for p, k in sorted(got - truth)]
    count = sum(1 for p, _ in truth if _is_allocation(p))
    if _state is not None and _state.count != count:
        problems.append(f"count {_state.count} != {count}")
    return True, problems
