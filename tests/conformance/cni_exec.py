"""Running a CNI plugin executable the way a runtime does, and reducing its answer to an Outcome.

`run()` executes one plugin with an `env -i`-style environment (the case's CNI_* variables plus
PATH, nothing else) and the case's stdin. `Outcome` is what the conformance suite compares: exit
status plus the parsed stdout (an error object, a result, VERSION's exact bytes, the about text),
never raw bytes where only JSON semantics matter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
REFERENCE_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins


def reference(name: str) -> str:
    return os.path.join(REFERENCE_DIR, name)


@dataclass(frozen=True)
class Run:
    rc: int
    stdout: bytes
    stderr: bytes


def run(executable: str, env: dict[str, str], stdin: bytes, timeout: float = 20.0) -> Run:
    full = {"PATH": PATH, **env}
    p = subprocess.run([executable], input=stdin, env=full, capture_output=True, timeout=timeout, check=False)
    return Run(p.returncode, p.stdout, p.stderr)


# --- what gets compared -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """rc plus one of: ("empty", None) ("error", ErrorValue) ("result", dict) ("version", text)
    ("about", stderr text) ("garbage", stdout text)."""

    rc: int
    kind: str
    value: Any = None
    note: str = field(default="", compare=False)

    def short(self) -> str:
        v = self.value
        if self.kind == "result":
            v = json.dumps(v, sort_keys=True)
        return f"rc={self.rc} {self.kind}: {v}"


@dataclass(frozen=True)
class ErrorValue:
    code: Any  # int, or a matcher
    msg: Any  # str, or a matcher
    details: Any = ""

    def __str__(self) -> str:
        return f"code={self.code} msg={self.msg!s} details={self.details!s}"


def outcome_of(r: Run) -> Outcome:
    out = r.stdout.decode("utf-8", "replace")
    if not out.strip():
        if r.rc == 0 and b"CNI protocol versions supported:" in r.stderr:
            return Outcome(0, "about", r.stderr.decode("utf-8", "replace"))
        return Outcome(r.rc, "empty")
    if out.startswith('{"cniVersion"') and '"supportedVersions"' in out and out.endswith("\n"):
        return Outcome(r.rc, "version", out)
    try:
        obj = json.loads(out)
    except ValueError:
        return Outcome(r.rc, "garbage", out[:500])
    if isinstance(obj, dict) and "code" in obj and "msg" in obj and "cniVersion" not in obj:
        return Outcome(r.rc, "error", ErrorValue(obj["code"], obj["msg"], obj.get("details", "")))
    return Outcome(r.rc, "result", obj)


# --- matchers for the parts of a message that legitimately vary ---------------------------------


class Prefix:
    """Matches any string with this prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Prefix):
            return other.prefix == self.prefix
        return isinstance(other, str) and other.startswith(self.prefix)

    def __hash__(self) -> int:
        return hash(self.prefix)

    def __repr__(self) -> str:
        return f"Prefix({self.prefix!r})"


_TYPE_ERR_CTX = re.compile(r"into Go (?:struct field \S*|value) of type ")


class GoTypeError:
    """A Go json.UnmarshalTypeError text compared without its "struct field <Struct>.<path>" part,
    which depends on the Go release (and on the struct type's name, e.g. NetConf vs PluginConf)."""

    def __init__(self, msg: str) -> None:
        self.key = _TYPE_ERR_CTX.sub("into Go <field> of type ", msg)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GoTypeError):
            return other.key == self.key
        return isinstance(other, str) and _TYPE_ERR_CTX.sub("into Go <field> of type ", other) == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"GoTypeError({self.key!r})"


def is_type_error(msg: str) -> bool:
    return "json: cannot unmarshal " in msg and _TYPE_ERR_CTX.search(msg) is not None


def matches(expected: Outcome, actual: Outcome) -> bool:
    if expected.rc != actual.rc or expected.kind != actual.kind:
        return False
    if expected.kind == "error":
        e, a = expected.value, actual.value
        return e.code == a.code and e.msg == a.msg and e.details == a.details
    return expected.value == actual.value


# --- small helpers shared by the corpus and the difference table ------------------------------


def error(code: int, msg: str, details: str = "") -> Outcome:
    return Outcome(1, "error", ErrorValue(code, msg, details))


def success(result: dict | None = None) -> Outcome:
    return Outcome(0, "empty") if result is None else Outcome(0, "result", result)
