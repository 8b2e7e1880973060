"""resolv.conf to a CNI DNS object, as host-local's dns.go reads it (not as libc does).

`search` and `options` accumulate across lines, `domain` keeps the last one, `nameserver` takes
its first argument; no validation. Lines longer than bufio.Scanner's 64 KiB fail as in Go.
"""

from __future__ import annotations

import posix

from pycni.gofmt import path_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_LINE = 64 * 1024  # bufio.MaxScanTokenSize: the buffer must hold a line and see its end


def parse_resolv_conf_text(data: bytes) -> dict[str, Any]:
    dns: dict[str, Any] = {}
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        if len(raw) >= MAX_LINE:
            raise ValueError("bufio.Scanner: token too long")
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        line = raw.decode("utf-8", "replace").strip()
        if not line or line[0] in "#;":
            continue
        fields = line.split()
        if len(fields) < 2:
            continue
        key = fields[0]
        if key == "nameserver":
            dns.setdefault("nameservers", []).append(fields[1])
        elif key == "domain":
            dns["domain"] = fields[1]
        elif key == "search":
            dns.setdefault("search", []).extend(fields[1:])
        elif key == "options":
            dns.setdefault("options", []).extend(fields[1:])
    return dns


def parse_resolv_conf(path: str) -> dict[str, Any]:
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(path_error("open", path, exc)) from None
    try:
        chunks = []
        while True:
            try:
                b = posix.read(fd, 65536)
            except OSError as exc:
                raise ValueError(path_error("read", path, exc)) from None
            if not b:
                break
            chunks.append(b)
    finally:
        posix.close(fd)
    return parse_resolv_conf_text(b"".join(chunks))
