"""Seeded mutations of a valid plugin config (and its prevResult) for the plugin fuzz suite.

Pure: no I/O, no namespaces, nothing but `random.Random`; the same (base, seed, index) always gives the same case.
It must not know any plugin: which keys exist comes from walking the base config; only `protected` keys (paths on
disk such as `dataDir`) are never touched, so a mutated config cannot write outside the test's directories.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

HUGE = [2**63 - 1, 2**63, 2**64, 2**32, 2**31, -(2**63), -1, -(2**31) - 1, 10**30, 1e308, -1e308, 0.5, 65536]
BAD_STRINGS = [
    "", " ", "garbage", "10.0.0.1/33", "::/129", "300.1.2.3/24", "10.9.0.2", "10.9.0.0/24 ", "1.2.3", "fd00::1/64",
    "fe80::1%eth0", "0.0.0.0/0", "::/0", "02:zz:00:00:00:01", "ff:ff:ff:ff:ff:ff", "-1", "9223372036854775807",
    "nil", "null", "true", "\u00e9\u2603", "a" * 300, "eth0/..", "1e3", "0x10", "10.9.0.2/24,10.9.0.3/24",
]
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.5, "", "garbage", [], {}, [None], {"": None}, [[]],
                         {"address": None}, ["10.9.0.2/24"], 2**63 - 1]
ODD_ARGS = [
    "", ";", "=", ";;==;;", "IgnoreUnknown=1", "IgnoreUnknown=true;FOO=bar", "FOO=bar", "IP=garbage",
    "IgnoreUnknown=1;IP=10.9.0.7", "IgnoreUnknown=1;IP=10.9.0.7/24", "IgnoreUnknown=1;IP=300.1.1.1",
    "IgnoreUnknown=1;MAC=zz:zz", "IgnoreUnknown=1;MAC=02:00:00:00:00:07", "IgnoreUnknown=maybe;X=1",
    "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=cid", "IgnoreUnknown=1;IP=",
    "IgnoreUnknown=1;IP=10.9.0.7,10.9.0.8", "a=b=c", "IgnoreUnknown=1;=x", "IgnoreUnknown=1;" + "A=" + "x" * 3000,
    "IgnoreUnknown=1;K8S_POD_NAME=\u00e9\u2603", "IgnoreUnknown=1;IP=::1",
]
BROKEN_JSON_TAILS = ["", "}", "]", ",", "\x00", "{}", "garbage", " {\"a\":1}"]
ONE_OP_MOSTLY = (1, 1, 1, 2, 3)  # how many operations a case gets: mostly one, so ADD gets past validation
OPS = ("type", "drop", "huge", "string", "null_in_list", "dup", "empty", "json", "args")


class Case:
    """One fuzz input: the stdin text, the CNI_ARGS value and what was done to the base (for reports)."""

    __slots__ = ("cni_args", "ops", "stdin")

    def __init__(self, stdin: str, cni_args: str, ops: list[str]) -> None:
        self.stdin = stdin
        self.cni_args = cni_args
        self.ops = ops

    def conf(self) -> dict | None:
        """The stdin decoded when it is a JSON object, else None."""
        try:
            doc = json.loads(self.stdin)
        except (ValueError, RecursionError):
            return None
        return doc if isinstance(doc, dict) else None

    def __repr__(self) -> str:
        return f"Case(ops={self.ops!r}, cni_args={self.cni_args!r}, stdin={self.stdin[:600]!r})"


Path = tuple  # a tuple of dict keys and list indexes from the root


def paths(doc: Any, protected: frozenset[str] = frozenset(), prefix: Path = ()) -> list[Path]:
    """Every key/index path in `doc` (depth first), without protected keys and what is below them."""
    out: list[Path] = []
    items: list[tuple[Any, Any]]
    if isinstance(doc, dict):
        items = [(k, v) for k, v in doc.items() if k not in protected]
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    else:
        return out
    for key, value in items:
        p = prefix + (key,)
        out.append(p)
        out += paths(value, protected, p)
    return out


def get(doc: Any, path: Path) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _parent(doc: Any, path: Path) -> tuple[Any, Any]:
    return get(doc, path[:-1]), path[-1]


def _other_type(rng: random.Random, value: Any) -> Any:
    choices = [v for v in ODD_VALUES if type(v) is not type(value)]
    return copy.deepcopy(rng.choice(choices))


def apply_op(doc: Any, op: str, rng: random.Random, protected: frozenset[str]) -> str:
    """Mutate `doc` in place with one structural operation; a short description of what was done."""
    all_paths = paths(doc, protected)
    if not all_paths:
        return f"{op}: nothing to mutate"
    if op == "null_in_list":
        lists = [p for p in all_paths if isinstance(get(doc, p), list)]
        if lists:
            p = rng.choice(lists)
            lst = get(doc, p)
            lst.insert(rng.randint(0, len(lst)), None)
            return f"null into {_fmt(p)}"
        op = "type"
    if op == "dup":
        lists = [p for p in all_paths if isinstance(get(doc, p), list) and get(doc, p)]
        if lists:
            p = rng.choice(lists)
            lst = get(doc, p)
            lst.append(copy.deepcopy(rng.choice(lst)))
            return f"duplicate in {_fmt(p)}"
        op = "drop"
    if op == "empty":
        containers = [p for p in all_paths if isinstance(get(doc, p), (list, dict))]
        if containers:
            p = rng.choice(containers)
            parent, key = _parent(doc, p)
            parent[key] = type(get(doc, p))()
            return f"empty {_fmt(p)}"
        op = "type"
    if op == "string":
        strings = [p for p in all_paths if isinstance(get(doc, p), str)]
        if strings:
            p = rng.choice(strings)
            parent, key = _parent(doc, p)
            parent[key] = rng.choice(BAD_STRINGS)
            return f"string {_fmt(p)}={parent[key][:40]!r}"
        op = "type"
    if op == "huge":
        numbers = [p for p in all_paths if isinstance(get(doc, p), (int, float)) and not isinstance(get(doc, p), bool)]
        p = rng.choice(numbers or all_paths)
        parent, key = _parent(doc, p)
        parent[key] = rng.choice(HUGE)
        return f"huge {_fmt(p)}={parent[key]!r}"
    p = rng.choice(all_paths)
    parent, key = _parent(doc, p)
    if op == "drop":
        del parent[key]
        return f"drop {_fmt(p)}"
    parent[key] = _other_type(rng, parent[key])
    return f"type {_fmt(p)}={json.dumps(parent[key])[:40]}"


def _fmt(path: Path) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path) or "."


def _break_json(rng: random.Random, text: str) -> tuple[str, str]:
    how = rng.randrange(5)
    if how == 0:
        cut = rng.randrange(len(text))
        return text[:cut], f"json truncated at {cut}"
    if how == 1:
        tail = rng.choice(BROKEN_JSON_TAILS)
        return text + tail, f"json + {tail!r}"
    if how == 2:
        i = rng.randrange(len(text))
        return text[:i] + rng.choice("{}[],:\"\\") + text[i:], f"json stray char at {i}"
    if how == 3:
        return rng.choice(["", "null", "[]", "0", "\"x\"", "[" * 5000, "{\"cniVersion\": NaN}"]), "json replaced"
    return text.replace("\"", "'", 1), "json single quote"


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _protected_values(doc: Any, protected: frozenset[str]) -> list[Any]:
    """Every protected key's value in doc (depth first)."""
    out: list[Any] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += [(k, v)] if k in protected else _protected_values(v, protected)
    elif isinstance(doc, list):
        for v in doc:
            out += _protected_values(v, protected)
    return out


def mutate(base: dict, rng: random.Random, protected: frozenset[str] = frozenset({"dataDir"}),
           max_ops: int = 3) -> Case:
    """A mutated copy of `base` as a Case: 1..max_ops operations drawn from OPS."""
    doc = copy.deepcopy(base)
    ops: list[str] = []
    cni_args = ""
    broken: str | None = None
    for _ in range(rng.choice(ONE_OP_MOSTLY[:max_ops + 2])):
        op = rng.choice(OPS)
        if op == "args":
            cni_args = rng.choice(ODD_ARGS)
            ops.append(f"CNI_ARGS={cni_args[:40]!r}")
        elif op == "json":
            broken = "json"
        else:
            ops.append(apply_op(doc, op, rng, protected))
    text = json.dumps(doc)
    if broken:
        broken_text, what = _break_json(rng, text)
        parsed = _loads(broken_text)
        if parsed is not None and _protected_values(parsed, protected) != _protected_values(doc, protected):
            # a stray character inside a protected string (a path) would move it: cut the text instead
            cut = rng.randrange(len(text))
            broken_text, what = text[:cut], f"json truncated at {cut}"
        text = broken_text
        ops.append(what)
    return Case(text, cni_args, ops)


def cases(base: dict, seed: int, count: int, key: str = "",
          protected: frozenset[str] = frozenset({"dataDir"})) -> list[Case]:
    """`count` cases for `base`; case i depends only on (seed, key, i), never on count or the other cases."""
    return [mutate(base, random.Random(f"{seed}:{key}:{i}"), protected) for i in range(count)]
