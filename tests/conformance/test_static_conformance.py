"""Differential test: pycni's `static` against the reference binary, case by case.

Every case of static_corpus runs through both executables with an `env -i`-style environment;
exit status, error code/msg/details and the parsed result must agree, except where the table in
differences.py says pycni follows upstream HEAD instead of Debian's 1.1.1 (and then pycni must
give exactly the answer that entry derives). The corpus runs once, in parallel, in a module
fixture; each case is then its own test.
"""

from __future__ import annotations

import collections
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from cni_exec import Outcome, matches, outcome_of, reference, run
from differences import DIFFERENCES, expected_for
from static_corpus import Case, build

REF = reference("static")
pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not os.access(REF, os.X_OK),
                       reason=f"reference plugin {REF} not installed (apt-get install containernetworking-plugins)"),
]

CASES: list[Case] = build()
STATS: dict[str, list[str]] = {}


class Corpus:
    def __init__(self, py_static: str) -> None:
        self.py_static = py_static
        self.ref: dict[str, Outcome] = {}
        self.py: dict[str, Outcome] = {}
        self._twins: dict[str, Outcome] = {}

    def run_all(self) -> None:
        def one(case: Case) -> tuple[str, Outcome, Outcome]:
            r = outcome_of(run(REF, case.env, case.stdin))
            p = outcome_of(run(self.py_static, case.env, case.stdin))
            return case.id, r, p

        with ThreadPoolExecutor(max_workers=4) as pool:
            for cid, r, p in pool.map(one, CASES):
                self.ref[cid], self.py[cid] = r, p

    def run_ref(self, case: Case) -> Outcome:
        if case.id not in self._twins:
            self._twins[case.id] = outcome_of(run(REF, case.env, case.stdin))
        return self._twins[case.id]


@pytest.fixture(scope="module")
def corpus(pycni_bin: str) -> Corpus:
    c = Corpus(os.path.join(pycni_bin, "static"))
    c.run_all()
    return c


_RESULTS: dict[str, tuple[bool, list[str]]] = {}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_static_matches_reference(case: Case, corpus: Corpus) -> None:
    ref, got = corpus.ref[case.id], corpus.py[case.id]
    expected, used = expected_for(case, ref, corpus.run_ref)
    ok = matches(expected, got)
    _RESULTS[case.id] = (ok, used)
    assert ok, (
        f"\n  case      {case.id}\n  env       {case.env}\n  stdin     {case.stdin[:300]!r}"
        f"\n  reference {ref.short()}\n  expected  {expected.short()}  (deliberate differences: {used or 'none'})"
        f"\n  pycni     {got.short()}"
    )


def test_zz_corpus_summary(corpus: Corpus) -> None:
    """Runs last (by name): reports the case count and checks none is unexplained."""
    assert len(CASES) >= 150
    if len(_RESULTS) != len(CASES):
        pytest.skip("the summary needs the whole corpus to have run")
    failed = [cid for cid, (ok, _) in _RESULTS.items() if not ok]
    identical = sum(1 for ok, used in _RESULTS.values() if ok and not used)
    by_entry = collections.Counter(k for ok, used in _RESULTS.values() if ok for k in used)
    lines = [
        f"{len(CASES)} cases: {identical} identical to the reference, "
        f"{len(CASES) - identical - len(failed)} explained by deliberate differences, "
        f"{len(failed)} unexplained",
    ]
    lines += [f"  {by_entry.get(d.key, 0):4d}  {d.key}: {d.what}" for d in DIFFERENCES]
    STATS["lines"] = lines
    print("\n".join(lines))
    assert not failed, f"unexplained differences: {failed}"


FUZZ = int(os.environ.get("PYCNI_CONFORMANCE_FUZZ", "0") or 0)


@pytest.mark.skipif(not FUZZ, reason="set PYCNI_CONFORMANCE_FUZZ=<number of mutated cases> to run")
def test_mutated_corpus_cases_match_reference(corpus: Corpus) -> None:
    """Opt-in: mutate corpus cases at random (seed in the failure text) and compare both plugins the
    same way. Mutated inputs may land on a HEAD-only field with a wrong type, which only a
    hand-written case can expect; those are skipped."""
    import json
    import random

    import static_corpus as C

    seed = int(os.environ.get("PYCNI_CONFORMANCE_SEED", "0") or random.randrange(2**32))
    rnd = random.Random(seed)
    leaves = [None, True, 0, -1, 1.5, 2**64, "", "x", "1.1.0", "0.2.0", "10.0.0.1/24", "10.0.0.1", "::1/64",
              "bogus", "mynet", [], {}, ["10.0.0.2/24"], {"dst": "0.0.0.0/0"}]

    def mutate(v, depth=0):  # noqa: ANN001, ANN202
        if isinstance(v, dict) and v and rnd.random() < 0.8:
            k = rnd.choice(list(v))
            out = dict(v)
            roll = rnd.random()
            if roll < 0.15:
                del out[k]
            elif roll < 0.3:
                out[k.upper() if rnd.random() < 0.5 else k.capitalize()] = out.pop(k)
            else:
                out[k] = mutate(v[k], depth + 1)
            return out
        if isinstance(v, list) and v and rnd.random() < 0.8:
            i = rnd.randrange(len(v))
            return v[:i] + [mutate(v[i], depth + 1)] + v[i + 1:]
        return rnd.choice(leaves)

    failures = []
    b = C._Builder()
    for n in range(FUZZ):
        base = rnd.choice(CASES)
        env = dict(base.env)
        if rnd.random() < 0.2 and env:
            k = rnd.choice(list(env))
            env[k] = rnd.choice(["", "-x", ".", "a b", "IP=10.0.0.9/24", "FOO=bar", "1.0", env[k]])
        conf = base.conf
        stdin = base.stdin
        keep = {"head_error": base.meta["head_error"]} if "head_error" in base.meta else {}
        if isinstance(conf, dict):
            keep = {}
            conf = mutate(conf)
            stdin = json.dumps(conf).encode()
            if rnd.random() < 0.05:
                stdin = stdin[: rnd.randrange(len(stdin))]
                conf = C.MISSING
        try:
            b.add("fuzz", str(n), env.get("CNI_COMMAND", C.MISSING), conf if conf is not None else C.MISSING,
                  stdin=stdin, env=env, **keep)
        except AssertionError:
            continue
        case = b.cases[-1]
        ref = outcome_of(run(REF, case.env, case.stdin))
        got = outcome_of(run(corpus.py_static, case.env, case.stdin))
        expected, used = expected_for(case, ref, corpus.run_ref)
        if not matches(expected, got):
            failures.append(f"{case.env} {case.stdin[:200]!r}\n   expected {expected.short()}\n   pycni    {got.short()}")
    assert not failures, f"seed {seed}: {len(failures)} unexplained\n" + "\n".join(failures[:10])
