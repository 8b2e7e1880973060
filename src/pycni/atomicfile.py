"""Replace a file so readers see the old content or the new one, never a part (not for plugin hot paths)."""

from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Write a hidden temporary beside `path`, fsync it, give it exactly `mode`, rename it over `path`,
    then fsync the directory (best effort) so the rename survives a crash too."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)  # exactly `mode`, whatever the umask
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
