"""Upstream's on-disk layout, the truth shared with the reference binary, and how files enter it.

  <dataDir>/<net>/<ip>                  "<id>\\r\\n<ifname>" (0600), one file per reserved address
  <dataDir>/<net>/last_reserved_ip.<N>  the address last reserved from range set N
  <dataDir>/<net>/lock                  flock(LOCK_EX) on it, held for the whole command
A file enters the layout complete: written and fsynced under a staging name, then link(2)ed (a
reservation: fails on an existing name, like upstream's O_CREAT|O_EXCL) or rename(2)d (the last
reserved address). Nothing here knows about the index.
"""

from __future__ import annotations

import errno
import posix

from pycni.gofmt import errno_text, path_error
from pycni.spec import ipnet

from . import crash
from .gofs import make_dirs, read_file, unlink_quietly

DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LAST_IP_PREFIX = "last_reserved_ip."
LINE_BREAK = "\r\n"
TMP_PREFIX = ".pycni-tmp."  # staging files inside <net>, only when the index's tmp/ is unusable

# Go's unicode.IsSpace set, for strings.TrimSpace.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def go_trim(s: str) -> str:
    return s.strip(_GO_SPACE)


def new_key(container_id: str, ifname: str) -> str:
    """What a reservation file holds (upstream's `id + LineBreak + ifname`)."""
    return go_trim(container_id) + LINE_BREAK + ifname


def key_of(data: bytes) -> str:
    """The key a file's content matches: trimmed, as upstream compares it."""
    return go_trim(data.decode("utf-8", "surrogateescape"))


def walk_order(rel: str) -> tuple[str, ...]:
    """Sort key giving filepath.Walk's lexical, depth-first order."""
    return tuple(rel.split("/"))


def is_allocation(rel: str) -> bool:
    """A top-level file whose name is an IP: what GetByID, GC, STATUS and `ipam show` count."""
    return "/" not in rel and ipnet.parse_ip(rel) is not None


def open_lock(path: str) -> int:
    """The lock file's descriptor, created if missing (0750, as go-filemutex)."""
    try:
        return posix.open(path, posix.O_CREAT | posix.O_RDONLY | posix.O_CLOEXEC, 0o750)
    except OSError as exc:
        raise ValueError(errno_text(exc)) from None  # go-filemutex returns the bare errno


def scan_dir(root: str, cleanup: bool = False) -> list[tuple[str, str]]:
    """Every file under `root` as upstream's filepath.Walk sees it: (relative path, trimmed content).

    The top-level `lock` and `last_reserved_ip.*` are left out: upstream also compares their content
    with a key, so a container whose ID is exactly the last reserved IP could match (and, on DEL,
    delete) `last_reserved_ip.N`; pycni does not reproduce that accident. Directories are descended,
    unreadable files skipped, as filepath.Walk does. `cleanup` removes staging leftovers.
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
                        unlink_quietly(e.path)
                    continue
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                walk(e.path, prefix + name + "/")
                continue
            try:
                data = read_file(e.path)
            except OSError:
                continue
            out.append((prefix + name, key_of(data)))

    walk(root, "")
    return out


def read_last_reserved(net_dir: str, range_id: str) -> ipnet.IP | None:
    """None when the file is missing or does not parse; upstream's error text for other failures."""
    path = net_dir + "/" + LAST_IP_PREFIX + range_id
    try:
        data = read_file(path)
    except FileNotFoundError:
        return None
    except IsADirectoryError as exc:
        raise ValueError(path_error("read", path, exc)) from None
    except OSError as exc:
        raise ValueError(path_error("open", path, exc)) from None
    return ipnet.parse_ip(data.decode("utf-8", "replace"))


class Stager:
    """Puts complete files into <net>: staged in `dir` (the index's tmp/, or <net> itself when that
    is unusable or on another filesystem), then linked or renamed into place."""

    __slots__ = ("net_dir", "dir", "phase", "_seq", "_ip_tmp")

    def __init__(self, net_dir: str, phase: str) -> None:
        self.net_dir = net_dir
        self.dir = net_dir
        self.phase = phase
        self._seq = 0
        self._ip_tmp: tuple[str, str] | None = None  # (key, path): one staged reservation, reused

    def stage(self, data: bytes, mode: int, sync: bool) -> str:
        """A new staging file holding `data`; its path."""
        self._seq += 1
        prefix = "" if self.dir != self.net_dir else TMP_PREFIX
        path = f"{self.dir}/{prefix}{posix.getpid()}.{self._seq}"
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC
        try:
            fd = posix.open(path, flags, mode)
        except FileNotFoundError:
            if self.dir == self.net_dir:
                raise
            try:
                make_dirs(self.dir, 0o700)  # someone removed the index under us
            except OSError:
                self.dir = self.net_dir  # stage beside the files instead
                return self.stage(data, mode, sync)
            fd = posix.open(path, flags, mode)
        try:
            try:
                posix.write(fd, data)
                if sync:
                    posix.fsync(fd)
            finally:
                posix.close(fd)
        except OSError:
            unlink_quietly(path)  # a full disk: leave no partial staging file behind
            raise
        return path

    def clean(self) -> None:
        """Under the lock every file in a staging directory is garbage from a killed command."""
        if self.dir == self.net_dir:
            return  # scan_dir(cleanup=True) drops the TMP_PREFIX files there
        try:
            names = posix.listdir(self.dir)
        except OSError:
            return
        for n in names:
            unlink_quietly(self.dir + "/" + n)

    def drop(self) -> None:
        """Forget the staged reservation (after it was linked, or when the key changes)."""
        if self._ip_tmp is not None:
            unlink_quietly(self._ip_tmp[1])
            self._ip_tmp = None

    def link_new(self, key: str, target: str) -> bool:
        """Create `target` holding `key`, all or nothing; False if the name already exists.

        One staged file serves every candidate address of a command, until one link succeeds.
        """
        for _attempt in range(2):
            if self._ip_tmp is None or self._ip_tmp[0] != key:
                self.drop()
                try:
                    self._ip_tmp = (key, self.stage(key.encode("utf-8", "surrogateescape"), 0o600, True))
                except OSError as exc:
                    raise ValueError(path_error("open", target, exc)) from None
                crash.kill_point(self.phase + ":staged")
            try:
                posix.link(self._ip_tmp[1], target)
                break
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno == errno.EXDEV and self.dir != self.net_dir:
                    self.drop()
                    self.dir = self.net_dir
                    continue
                raise ValueError(path_error("open", target, exc)) from None
        self.drop()  # the staged name now shares the inode: never reuse it
        return True

    def replace(self, final: str, data: bytes) -> None:
        """Atomically set `final` to `data` (rename over it); upstream's `open` error text.

        Not fsynced: its one use is last_reserved_ip, a hint where the next search starts. After a crash
        it may be old or empty, which read_last_reserved takes as "no hint"; no address depends on it.
        """
        for _attempt in range(2):
            try:
                tmp = self.stage(data, 0o600, False)
            except OSError as exc:
                raise ValueError(path_error("open", final, exc)) from None
            try:
                posix.rename(tmp, final)
                return
            except OSError as exc:
                unlink_quietly(tmp)
                if exc.errno == errno.EXDEV and self.dir != self.net_dir:
                    self.dir = self.net_dir
                    continue
                raise ValueError(path_error("open", final, exc)) from None
