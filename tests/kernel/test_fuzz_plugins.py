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


def _with_prev(name: str, edit: object) -> str:
    conf = SPECS[name].conf(None)
    edit(conf)  # type: ignore[operator]
    return json.dumps(conf)


def _set(path: tuple, value: object) -> object:
    def edit(conf: dict) -> None:
        d = conf
        for k in path[:-1]:
            d = d[k]
        if value is _DROP:
            del d[path[-1]]
        else:
            d[path[-1]] = value
    return edit


_DROP = object()
REGRESSIONS = [
    # issue 13 item 4, and what the fuzz found: (plugin, edit, text ADD must answer; DEL must succeed)
    ("ptp", _set(("mtu",), 2**63 - 1), "failed to make veth pair: invalid argument"),
    ("bridge", _set(("mtu",), 2**32), "invalid argument"),
    ("sbr", _set(("prevResult", "routes"), [None]), "could not parse prevResult: routes[0] is null"),
    ("portmap", _set(("prevResult", "ips", 0, "address"), _DROP), "ips[0] has no address"),
    ("firewall", _set(("prevResult", "ips", 0, "address"), _DROP), "ips[0] has no address"),
    ("sbr", _set(("prevResult", "ips", 0, "address"), "10.77.0.5/24"), "sbr: 10.77.0.5/24 is not an address of eth0"),
    ("ptp", _set(("ipam", "routes", 2, "mtu"), _DROP), "its metrics (mtu unset, advmss unset) differ"),
]


@pytest.mark.parametrize("name, edit, text", REGRESSIONS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REGRESSIONS)])
def test_named_regressions_fail_cleanly_and_del_succeeds(name: str, edit: object, text: str, pycni_dir: str) -> None:
    w = World(SPECS[name], pycni_dir)
    try:
        rep = run_case(w, -1, Case(_with_prev(name, edit), "", ["regression"]))
    finally:
        w.close()
    assert not rep.violations, rep
    assert text in rep.outcomes["ADD"] and rep.outcomes["ADD"].startswith("rc=1"), rep
    assert rep.outcomes["DEL"].startswith("rc=0"), rep
