"""Go-worded OS errors: what `*posix.PathError` and `syscall.Errno` print, for raw errors upstream returns."""

from __future__ import annotations

import posix


class GoError(ValueError):
    """A plugin-logic failure (skel reports it as code 999 with this text)."""


def errno_text(exc: OSError | int) -> str:
    """syscall.Errno.Error(): the C message with Go's lower-case first letter."""
    code = exc if isinstance(exc, int) else (exc.errno or 0)
    text = posix.strerror(code) if code else str(exc)
    return text[:1].lower() + text[1:]


def go_path_error(op: str, path: str, exc: OSError | int) -> GoError:
    return GoError(f"{op} {path}: {errno_text(exc)}")
