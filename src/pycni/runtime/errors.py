"""Errors of the runtime side. The text is libcni's; a plugin's own CNI error stays reachable.

libcni wraps plugin errors with `%w`, so a caller can still find the plugin's code; here the
wrapped CNIError is `.cause` and its code `.code` (None when no plugin error is involved).
"""

from __future__ import annotations

from pycni.spec.errors import CNIError


class CNIRuntimeError(Exception):
    """A runtime-side failure; str() is the whole message, as libcni's error string."""

    def __init__(self, msg: str, cause: CNIError | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.cause = cause

    @property
    def code(self) -> int | None:
        return None if self.cause is None else self.cause.code

    def __str__(self) -> str:
        return self.msg


class ConfigError(CNIRuntimeError):
    """Loading or parsing a network configuration failed."""


class NotFoundError(ConfigError):
    def __init__(self, directory: str, name: str) -> None:
        super().__init__(f'no net configuration with name "{name}" in {directory}')
        self.dir = directory
        self.name = name


class NoConfigsFoundError(ConfigError):
    def __init__(self, directory: str) -> None:
        super().__init__(f"no net configurations found in {directory}")
        self.dir = directory


def wrap(prefix: str, err: BaseException) -> CNIRuntimeError:
    """fmt.Errorf("<prefix>: %w", err), keeping the plugin's CNIError reachable."""
    if isinstance(err, CNIRuntimeError):
        return CNIRuntimeError(f"{prefix}: {err}", err.cause)
    if isinstance(err, CNIError):
        return CNIRuntimeError(f"{prefix}: {err}", err)
    return CNIRuntimeError(f"{prefix}: {err}")


def join(errs: list[CNIRuntimeError]) -> CNIRuntimeError | None:
    """errors.Join: None for no errors, else one error whose text is the lines joined."""
    if not errs:
        return None
    if len(errs) == 1:
        return errs[0]
    out = CNIRuntimeError("\n".join(str(e) for e in errs), next((e.cause for e in errs if e.cause), None))
    out.errors = errs  # type: ignore[attr-defined]
    return out
