"""Replace a file so readers see the old content or the new one, never a part.

Built on `posix` alone (no `os`, no `tempfile`: those cost a plugin exec 15 ms and more), so plugins
can use it on their hot path.
"""

from __future__ import annotations

import posix

_O_TMP = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC


def _split(path: str) -> tuple[str, str]:
    head, _, base = path.rpartition("/")
    return (head or ("/" if path.startswith("/") else ".")), base


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Write a hidden temporary beside `path`, fsync it, give it exactly `mode`, rename it over `path`,
    then fsync the directory (best effort) so the rename survives a crash too."""
    directory, base = _split(path)
    while True:
        tmp = f"{directory}/.{base}.{posix.getpid()}.{posix.urandom(4).hex()}"
        try:
            fd = posix.open(tmp, _O_TMP, 0o600)
            break
        except FileExistsError:
            continue  # a name left by a killed writer: draw another
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[posix.write(fd, view):]
            posix.fchmod(fd, mode)  # exactly `mode`, whatever the umask
            posix.fsync(fd)
        finally:
            posix.close(fd)
        posix.rename(tmp, path)
    except BaseException:
        try:
            posix.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = posix.open(directory, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            posix.fsync(dfd)
        finally:
            posix.close(dfd)
    except OSError:
        pass
