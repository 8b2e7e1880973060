"""Entering network namespaces by path: a context manager that always returns the calling thread home.

setns(2) acts on the calling *thread* only, so everything (netlink sockets, /proc/sys opens) must happen on the
thread that entered. Never leaves a thread in a foreign namespace silently; never creates or deletes namespaces.

Path check (the reference's IsNSorErr): the path must exist (else NSPathNotExistError, text
`failed to Statfs "<p>": no such file or directory`) and live on nsfs. nsfs has a single superblock, so a
file whose st_dev equals that of /proc/thread-self/ns/net is a namespace file (no statfs needed on the happy
path). Otherwise statfs(2) via ctypes supplies the filesystem magic: PROC is accepted like the reference (setns
then decides), anything else is NSPathNotNSError `unknown FS magic on "<p>": <hex>`.
"""

from __future__ import annotations

import posix  # not os: the netns check is on every plugin's path, and os costs a millisecond to import
import sys

from pycni.gofmt import errno_text, q

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any, TypeVar

    T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NSFS_MAGIC = 0x6E736673
PROC_SUPER_MAGIC = 0x9FA0
THREAD_NS = "/proc/thread-self/ns/net"

_libc: Any = None


class NetNSError(ValueError):
    """A namespace could not be checked, opened or entered."""


class NSPathNotExistError(NetNSError):
    """The namespace path does not exist (callers treat this as "namespace already gone")."""


class NSPathNotNSError(NetNSError):
    """The path exists but is not a namespace file."""


class NetNSRestoreError(NetNSError):
    """The thread could not return to its original namespace: it must not be used for anything else."""


def _get_libc() -> Any:
    global _libc
    if _libc is None:
        import ctypes  # lazy: only where os.setns is missing (Python < 3.12) or a statfs is needed

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """setns(2) for the calling thread; OSError on failure."""
    native = getattr(posix, "setns", None)
    if native is not None:
        native(fd, nstype)
        return
    import ctypes  # lazy: heavy stdlib, only on this branch

    if _get_libc().setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, posix.strerror(err))


def fs_magic(path: str) -> int:
    """statfs(2) f_type of path (glibc's struct statfs starts with f_type: a long, an int on s390x)."""
    import ctypes  # lazy: heavy stdlib, only on this branch

    buf = ctypes.create_string_buffer(512)
    if _get_libc().statfs(path.encode("utf-8", "surrogateescape"), buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, posix.strerror(err), path)
    width = 4 if posix.uname().machine.startswith("s390") else ctypes.sizeof(ctypes.c_long)

    return int.from_bytes(buf.raw[:width], sys.byteorder) & 0xFFFFFFFF


def check_netns_path(path: str) -> None:
    """Raise NSPathNotExistError / NSPathNotNSError / NetNSError unless path looks like a namespace file."""
    try:
        st = posix.stat(path)
    except FileNotFoundError:
        raise NSPathNotExistError(f"failed to Statfs {q(path)}: no such file or directory") from None
    except OSError as e:
        raise NetNSError(f"failed to Statfs {q(path)}: {errno_text(e.errno or 0)}") from None
    if st.st_dev == posix.stat(THREAD_NS).st_dev:
        return
    try:
        magic = fs_magic(path)
    except OSError as e:
        raise NetNSError(f"failed to Statfs {q(path)}: {errno_text(e.errno or 0)}") from None
    if magic not in (NSFS_MAGIC, PROC_SUPER_MAGIC):
        raise NSPathNotNSError(f"unknown FS magic on {q(path)}: {magic:x}")


def open_netns(path: str) -> int:
    """Check path and open it (O_RDONLY|O_CLOEXEC); the caller closes the fd."""
    check_netns_path(path)
    try:
        return posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise NetNSError(f"open {path}: {errno_text(e.errno or 0)}") from None


def netns_id(path: str = THREAD_NS) -> tuple[int, int]:
    """(st_dev, st_ino) identifying the namespace behind path."""
    st = posix.stat(path)
    return st.st_dev, st.st_ino


def same_netns(path: str, other: str = THREAD_NS) -> bool:
    """True if path names the namespace of the calling thread (/proc/self/ns/net for the main thread)."""
    return netns_id(path) == netns_id(other)


class netns:  # noqa: N801 - used like a function: `with netns(path):`
    """`with netns(path):` runs the body in the namespace at path, then always returns the thread to the
    namespace it was in (kept open as an fd). Re-entrant and nestable."""

    __slots__ = ("path", "_saved")

    def __init__(self, path: str) -> None:
        self.path = path
        self._saved: list[int] = []

    def __enter__(self) -> netns:
        target = open_netns(self.path)
        try:
            try:
                orig = posix.open(THREAD_NS, posix.O_RDONLY | posix.O_CLOEXEC)
            except OSError as e:
                raise NetNSError(f"Failed to open current namespace: {errno_text(e.errno or 0)}") from None
            try:
                setns(target)
            except OSError as e:
                posix.close(orig)
                p = self.path
                msg = f"error switching to ns {p}: Error switching to ns {p}: {errno_text(e.errno or 0)}"
                raise NetNSError(msg) from None
        finally:
            posix.close(target)
        self._saved.append(orig)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        orig = self._saved.pop()
        try:
            setns(orig)
        except OSError as e:
            raise NetNSRestoreError(f"failed to return to the original network namespace: {errno_text(e.errno or 0)}") from ev
        finally:
            posix.close(orig)


def run_in_netns(path: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) inside the namespace at path, on the calling thread."""
    with netns(path):
        return fn(*args, **kwargs)
