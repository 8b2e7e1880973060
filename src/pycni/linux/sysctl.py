"""Read and write /proc/sys entries with the reference's name normalisation.

/proc/sys/net/* shows the network namespace of the thread that opens the file, so call these after entering
the namespace (netns()) on the same thread. Nothing is cached; no other /proc paths are touched.
"""

from __future__ import annotations

import os

from pycni.gofmt import errno_text

PROC_SYS = "/proc/sys/"


class SysctlError(OSError):
    """A failed read or write; str() is Go's *PathError text, e.g. `open /proc/sys/x: no such file or directory`."""

    def __init__(self, op: str, path: str, err: int) -> None:
        super().__init__(err, errno_text(err), path)
        self.op = op

    def __str__(self) -> str:
        return f"{self.op} {self.filename}: {self.strerror}"


def normalize(name: str) -> str:
    """If '.' comes before any '/', swap every '.' and '/' (so `net.ipv4.conf.eth0/1.rp_filter` names the
    interface `eth0.1`); otherwise the name is already a path and is left alone."""
    dot = name.find(".")
    slash = name.find("/")
    if dot != -1 and (slash == -1 or dot < slash):
        return name.translate(_SWAP)
    return name


_SWAP = str.maketrans("./", "/.")


def path_of(name: str) -> str:
    return PROC_SYS + normalize(name)


def get(name: str) -> str:
    """The value without its last byte (the kernel's trailing newline), as the reference does."""
    path = path_of(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SysctlError("open", path, e.errno or 0) from None
    try:
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError as e:
                raise SysctlError("read", path, e.errno or 0) from None
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)[:-1].decode("utf-8", "surrogateescape")


def write_path(path: str, value: str, create: bool = False) -> None:
    """Write value to a /proc/sys file (with `create`, as Go's os.WriteFile: O_CREAT|O_TRUNC, 0644);
    SysctlError("open"|"write", path, errno) on failure."""
    flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_CREAT | os.O_TRUNC if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        raise SysctlError("open", path, e.errno or 0) from None
    try:
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise SysctlError("write", path, e.errno or 0) from None
    finally:
        os.close(fd)


def set(name: str, value: str) -> str:  # noqa: A001 - mirrors the reference's Sysctl(name, value)
    """Write value, then return the re-read value."""
    write_path(path_of(name), value)
    return get(name)


def sysctl(name: str, *value: str) -> str:
    """The reference's Sysctl(name[, value]): read, or write one value and re-read."""
    if not value:
        return get(name)
    if len(value) > 1:
        raise ValueError("unexcepted additional parameters")  # sic: the reference's text
    return set(name, value[0])
