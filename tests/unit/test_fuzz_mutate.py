"""tests/fuzz_mutate.py, the fuzz suite's mutation engine: deterministic, never touches protected keys, and every
operation really changes the input."""

from __future__ import annotations

import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fuzz_mutate as fm

BASE = {"cniVersion": "1.0.0", "name": "n", "type": "ptp", "mtu": 1400,
        "ipam": {"type": "host-local", "dataDir": "/tmp/x", "ranges": [[{"subnet": "10.0.0.0/24"}]]},
        "prevResult": {"ips": [{"address": "10.0.0.2/24"}], "routes": [{"dst": "0.0.0.0/0"}]}}


def test_same_seed_same_cases_and_index_independent_of_count() -> None:
    a = fm.cases(BASE, 7, 30, key="ptp")
    b = fm.cases(BASE, 7, 10, key="ptp")
    assert [(c.stdin, c.cni_args) for c in a[:10]] == [(c.stdin, c.cni_args) for c in b]
    other = fm.cases(BASE, 8, 30, key="ptp")
    assert [c.stdin for c in a] != [c.stdin for c in other]


def test_base_is_never_modified_and_cases_differ_from_it() -> None:
    before = json.dumps(BASE, sort_keys=True)
    cs = fm.cases(BASE, 1, 200)
    assert json.dumps(BASE, sort_keys=True) == before
    assert sum(c.conf() == BASE and not c.cni_args for c in cs) < 10  # only no-op drops of equal dups etc.


def test_protected_keys_are_never_touched() -> None:
    for c in fm.cases(BASE, 3, 300):
        doc = c.conf()
        if doc is not None and isinstance(doc.get("ipam"), dict) and "ranges" in doc["ipam"]:
            assert doc["ipam"].get("dataDir") == "/tmp/x", c


def test_every_operation_changes_the_document() -> None:
    for op in ("type", "drop", "huge", "string", "null_in_list", "dup", "empty"):
        for i in range(20):
            doc = json.loads(json.dumps(BASE))
            what = fm.apply_op(doc, op, random.Random(i), frozenset({"dataDir"}))
            assert doc != BASE or "nothing" in what, (op, what)


def test_broken_json_and_args_show_up() -> None:
    cs = fm.cases(BASE, 5, 400)
    assert any(c.conf() is None for c in cs)
    assert any(c.cni_args for c in cs)
    assert any(any(o.startswith("null into") for o in c.ops) for c in cs)


def test_paths_walks_lists_and_skips_protected() -> None:
    ps = fm.paths(BASE, frozenset({"dataDir"}))
    assert ("ipam", "ranges", 0, 0, "subnet") in ps
    assert not any("dataDir" in p for p in ps)
