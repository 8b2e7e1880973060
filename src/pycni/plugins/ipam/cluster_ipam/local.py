"""cluster-ipam's node-local files: the per-(network, node) flock, the block hint cache, the etcd token cache.

The flock single-flights a node's ADDs so they never race each other for the same free address;
nothing here is authoritative (etcd is): a lost or stale file only costs a round trip.
"""

from __future__ import annotations

import binascii
import fcntl
import posix


def _mkdirs(path: str) -> None:
    parts = path.split("/")
    for i in range(2, len(parts) + 1):
        p = "/".join(parts[:i])
        if not p:
            continue
        try:
            posix.mkdir(p, 0o700)
        except FileExistsError:
            pass


class NodeLock:
    """Exclusive flock on `<dir>/<network>@<node>.lock`, held for one ADD; also owns the hint file."""

    def __init__(self, lock_dir: str, network: str, node: str) -> None:
        self.dir = lock_dir
        self.base = f"{lock_dir}/{network}@{node}"
        self.fd = -1

    def __enter__(self) -> NodeLock:  # noqa: PYI034
        try:
            fd = posix.open(self.base + ".lock", posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            _mkdirs(self.dir)
            fd = posix.open(self.base + ".lock", posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            posix.close(self.fd)  # closing drops the flock
            self.fd = -1

    def load_hints(self) -> dict[str, str]:
        """pool id -> block hex of the block last allocated from."""
        text = _read(self.base + ".hints")
        out = {}
        for line in text.splitlines():
            pool, _, block = line.partition(" ")
            if block:
                out[pool] = block
        return out

    def save_hints(self, hints: dict[str, str]) -> None:
        # A cache under our flock, re-validated against etcd on every ADD: write + rename (whole
        # file or old file), no fsync (a stale or empty hint after a crash costs one round trip).
        _write(self.base + ".hints", "".join(f"{p} {b}\n" for p, b in sorted(hints.items())), 0o644)


class TokenCache:
    """An etcd auth token shared by the execs of a node (authenticate costs bcrypt + a raft round)."""

    def __init__(self, lock_dir: str, endpoints: list[str], user: str, password: str) -> None:
        # The password is part of the tag: a changed or wrong password never reuses another's token.
        tag = binascii.crc32(("\n".join(endpoints) + "\n" + user + "\n" + password).encode())
        self.dir = lock_dir
        self.path = f"{lock_dir}/token-{tag:08x}"

    def load(self) -> str:
        return _read(self.path).strip()

    def save(self, token: str) -> None:
        try:
            _mkdirs(self.dir)
            _write(self.path, token, 0o600)
        except OSError:
            pass  # only a cache


def _read(path: str) -> str:
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return ""
    try:
        data = b""
        while True:
            chunk = posix.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")
    finally:
        posix.close(fd)


def _write(path: str, text: str, mode: int) -> None:
    tmp = f"{path}.{posix.getpid()}.tmp"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode)
    try:
        posix.write(fd, text.encode())
    finally:
        posix.close(fd)
    posix.rename(tmp, path)
