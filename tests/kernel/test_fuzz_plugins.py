"""Seeded fuzzing of every plugin executable (harness_fuzz.py): mutated configs, prevResults and CNI_ARGS run as
ADD -> CHECK -> DEL in throwaway namespaces; every answer must be a proper CNI answer and DEL must leave nothing.

CI runs a fixed seed and a modest count; PYCNI_FUZZ_CASES / PYCNI_FUZZ_SEED raise or change it (bench/fuzz_plugins.py
runs the large count). Link types the kernel lacks still get the protocol invariants.
"""

from __future__ import annotations

import json
import os

import pytest
from harness_fuzz import SPECS, Case, World, fuzz_plugin, run_case

CASES = int(os.environ.get("PYCNI_FUZZ_CASES", "12"))
SEED = int(os.environ.get("PYCNI_FUZZ_SEED", "13"))
KERNEL_MAY_LACK = {"ipvlan", "vlan", "dummy", "vrf"}


@pytest.mark.parametrize("name", list(SPECS))
def test_base_config_works(name: str, pycni_dir: str) -> None:
    """The unmutated config succeeds (or fails only for a link type this kernel lacks) and leaves nothing."""
    spec = SPECS[name]
    w = World(spec, pycni_dir)
    try:
        rep = run_case(w, -1, Case(json.dumps(spec.conf(None)), "", ["base"]))
    finally:
        w.close()
    assert not rep.violations, rep
    if name in KERNEL_MAY_LACK and "not supported" in rep.outcomes["ADD"]:
        return
    assert all(rep.outcomes[c].startswith("rc=0") for c in ("ADD", "CHECK", "DEL")), rep


@pytest.mark.parametrize("name", list(SPECS))
def test_fuzzed_configs_keep_the_protocol_and_leave_nothing(name: str, pycni_dir: str) -> None:
    res = fuzz_plugin(name, pycni_dir, SEED, CASES)
    assert res.cases == CASES
    assert not res.failed, f"{res.violations}/{res.cases} cases of {name} violated an invariant:\n" + "\n".join(
        repr(r) for r in res.failed)
