"""pycni.linux.spawn (the lean program runner) and netfilter's batching layer (rule keys, Snapshot, Txn).

The spawner runs harmless programs (true, cat, sh); nothing here touches iptables or nft. The start-up
check runs the spawner in a fresh `python -I -S` and holds it to an allow-list, as test_startup_imports does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pycni
from pycni.linux import netfilter as nf
from pycni.linux import spawn

SRC = str(Path(pycni.__file__).resolve().parent.parent)
HEAVY = {"json", "re", "typing", "socket", "enum", "subprocess", "ipaddress", "dataclasses", "importlib",
         "collections", "selectors", "argparse", "tempfile", "random", "hashlib", "logging", "inspect", "signal",
         "threading", "shutil", "os", "shlex"}

PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
from pycni.linux import spawn, netfilter, ipmasq
r = spawn.run(["cat"], "x" * 100000)
assert r.status == 0 and len(r.stdout) == 100000, r.status
netfilter.Snapshot(None, "nat", "-P POSTROUTING ACCEPT\\n-N CNI-X\\n-A CNI-X -j ACCEPT\\n")
ipmasq.chain_name("n", "c")
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_spawner_and_netfilter_load_no_heavy_module() -> None:
    p = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, SRC], capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    mods = set(p.stdout.split())
    assert not mods & HEAVY, f"heavy modules: {sorted(mods & HEAVY)}"
    foreign = {m for m in mods if not m.startswith("pycni")}
    assert foreign <= {"__future__", "_signal", "_sha512", "_sha2"}, sorted(foreign)


def test_run_feeds_stdin_and_reads_both_outputs_to_the_end() -> None:
    big = "y" * (1 << 20)  # more than a pipe holds: no deadlock, nothing cut
    r = spawn.run(["sh", "-c", "cat; echo err >&2; exit 3"], big)
    assert (r.status, len(r.stdout), r.stderr) == (3, len(big), "err\n")
    assert r.status_text() == "exit status 3"
    assert spawn.run(["true"]).stdout == ""  # stdin is /dev/null when not given
    assert spawn.run(["cat"]).stdout == ""


def test_run_reports_signals_and_missing_programs() -> None:
    r = spawn.run(["sh", "-c", "kill -9 $$"])
    assert (r.status, r.status_text()) == (-9, "signal: killed")
    with pytest.raises(FileNotFoundError):
        spawn.run(["pycni-no-such-program"])
    assert spawn.lookpath("sh") is not None and spawn.lookpath("pycni-no-such-program") is None
    assert spawn.lookpath("sh", {"PATH": "/nonexistent"}) is None


def test_observer_sees_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, int]] = []
    monkeypatch.setattr(spawn, "observer", lambda argv, secs, status: seen.append((argv[0], status)))
    spawn.run(["true"])
    spawn.run(["false"])
    assert seen == [("true", 0), ("false", 1)]


def test_rule_keys_match_what_iptables_prints() -> None:
    printed = nf.split_rule('-A CNI-x -s 10.0.0.0/24 -d 1.2.3.4/32 -p tcp -m tcp --dport 80 -m comment '
                            '--comment "name: \\"net\\" id: \\"cid\\"" -j MARK --set-xmark 0x2000/0x2000')
    assert printed[:2] == ["-A", "CNI-x"] and printed[15] == 'name: "net" id: "cid"'
    ours = ["-p", "tcp", "--dport", "80", "-d", "1.2.3.4", "-s", "10.0.0.2/24", "-j", "MARK", "--set-xmark",
            "0x2000/0x2000", "-m", "comment", "--comment", 'name: "net" id: "cid"']
    assert nf.canon(printed[2:]) == nf.canon(ours)
    assert nf.canon(["-m", "multiport", "--destination-ports", "80,443"]) == nf.canon(["-m", "multiport", "--dports",
                                                                                      "80,443"])
    assert nf.canon(["!", "-d", "224.0.0.0/4", "-j", "MASQUERADE"]) != nf.canon(["-d", "224.0.0.0/4", "-j",
                                                                                  "MASQUERADE"])
    assert nf.canon(["-s", "fd00::2/64"]) == nf.canon(["-s", "fd00::/64"])
    assert nf.split_rule(nf.rule_text(ours)) == ours


def test_txn_decides_against_the_snapshot() -> None:
    snap = nf.Snapshot(None, "nat", "-P POSTROUTING ACCEPT\n-N CNI-A\n"
                                     "-A POSTROUTING -s 10.0.0.2/32 -m comment --comment \"x y\" -j CNI-A\n"
                                     "-A CNI-A -d 10.0.0.0/24 -j ACCEPT\n")
    txn = nf.Txn(snap)
    txn.ensure_chain("CNI-A")  # exists: no -N (a -N would fail the transaction)
    txn.stage = "rules"
    txn.append_unique("CNI-A", ["-d", "10.0.0.0/24", "-j", "ACCEPT"])  # present
    txn.append_unique("CNI-A", ["!", "-d", "224.0.0.0/4", "-j", "MASQUERADE"])
    txn.append_unique("CNI-A", ["!", "-d", "224.0.0.0/4", "-j", "MASQUERADE"])  # queued already
    txn.insert_unique("POSTROUTING", True, ["-s", "10.0.0.3", "-j", "CNI-A"])
    txn.stage = "drop"
    txn.delete_chain("CNI-A")
    assert txn.ops == ["-A CNI-A ! -d 224.0.0.0/4 -j MASQUERADE", "-I POSTROUTING 1 -s 10.0.0.3 -j CNI-A",
                       '-D POSTROUTING -s 10.0.0.3 -j CNI-A',
                       '-D POSTROUTING -s 10.0.0.2/32 -m comment --comment "x y" -j CNI-A', "-F CNI-A", "-X CNI-A"]
    assert txn.stage_of("iptables-restore: line 2 failed: x") == "rules"
    assert txn.stage_of("iptables-restore: line 7 failed: x") == "drop"
    assert txn.stage_of("something else") == ""
