"""The file helpers host-local's store needs, written on `posix` so ADD and DEL never load `os`.

`os` (with stat, posixpath and _collections_abc) costs about a millisecond per exec. Go's
os.MkdirAll with its error text; whole-file reads; a recursive remove. Knows nothing of the layout.
"""

from __future__ import annotations

import errno
import posix

from pycni.gofmt import path_error

_S_IFMT = 0o170000
_S_IFDIR = 0o040000


def read_file(path: str) -> bytes:
    """The whole file (one read for the small files of the layout)."""
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


def unlink_quietly(path: str) -> None:
    """Remove a file whose removal is only tidying (staging leftovers, a marker): errors ignored."""
    try:
        posix.unlink(path)
    except OSError:
        pass


def make_dirs(path: str, mode: int) -> None:
    """Go's os.MkdirAll: an OSError names (in .filename) the path that failed."""
    try:
        st = posix.stat(path)
    except OSError:
        st = None
    if st is not None:
        if (st.st_mode & _S_IFMT) == _S_IFDIR:
            return
        raise NotADirectoryError(errno.ENOTDIR, posix.strerror(errno.ENOTDIR), path)
    i = len(path)
    while i > 0 and path[i - 1] == "/":
        i -= 1
    j = i
    while j > 0 and path[j - 1] != "/":
        j -= 1
    if j > 1:
        make_dirs(path[: j - 1] or "/", mode)
    try:
        posix.mkdir(path, mode)
    except OSError:
        try:
            if (posix.lstat(path).st_mode & _S_IFMT) == _S_IFDIR:
                return
        except OSError:
            pass
        raise


def mkdir_all(path: str, mode: int) -> None:
    """os.MkdirAll with Go's error text (`mkdir <the failing path>: <errno>`) as a ValueError."""
    try:
        make_dirs(path, mode)
    except OSError as exc:
        raise ValueError(path_error("mkdir", exc.filename or path, exc)) from None


def remove_tree(path: str) -> None:
    """rm -r of a directory of files and directories (the index's old bucket sets)."""
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
            remove_tree(p)
        except FileNotFoundError:
            pass
    try:
        posix.rmdir(path)
    except FileNotFoundError:
        pass
