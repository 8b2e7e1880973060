"""FakeXtables / FakeNft / FakeNetfilter: in-memory iptables and nft for the netfilter, portmap and firewall unit
tests (helpers only; the `fake` fixture that installs them is in tests/unit/conftest.py). Nothing in tests/unit
ever runs a real iptables or nft, even as root.
"""

from __future__ import annotations

import copy
import json
import os
import shlex

from pycni.linux.spawn import Completed

BUILTIN_CHAINS = {"nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], "filter": ["INPUT", "FORWARD", "OUTPUT"]}
TARGETS = {"ACCEPT", "DROP", "RETURN", "MARK", "MASQUERADE", "DNAT", "SNAT"}
BAD_RULE = "iptables: Bad rule (does a matching rule exist in that chain?).\n"
NO_CHAIN = "iptables: No chain/target/match by that name.\n"


def _quote(tok: str) -> str:
    if tok == "" or any(c in tok for c in ' "\'\\'):
        return '"' + tok.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return tok


class FakeXtables:
    """iptables/ip6tables (the subset go-iptables uses), one state per (family, table)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[bool, str], dict[str, list[list[str]]]] = {}
        self.calls: list[tuple[str, list[str]]] = []
        self.failures: list[tuple[object, int, str]] = []  # (predicate(prog, args), rc, stderr)

    def chains(self, v6: bool, table: str) -> dict[str, list[list[str]]]:
        return self.tables.setdefault((v6, table), {c: [] for c in BUILTIN_CHAINS[table]})

    def rules(self, v6: bool, table: str, chain: str) -> list[list[str]]:
        return self.chains(v6, table).get(chain, [])

    def fail_when(self, predicate: object, rc: int = 1, stderr: str = "iptables: boom.\n") -> None:
        self.failures.append((predicate, rc, stderr))

    def ops(self, prog: str | None = None) -> list[list[str]]:
        return [a for p, a in self.calls if prog is None or p == prog]

    def restore(self, argv: list[str], stdin: str) -> Completed:
        """iptables-restore -w --noflush: every line applied, or (on the first failure) none."""
        prog = os.path.basename(argv[0])
        assert argv[1:] == ["-w", "--noflush"], argv
        lines = stdin.splitlines()
        assert lines[0].startswith("*") and lines[-1] == "COMMIT", stdin
        self.calls.append((prog, ["<restore>", *lines]))
        saved = copy.deepcopy(self.tables)
        for n, line in enumerate(lines[1:-1], start=2):
            argv1 = [prog.removesuffix("-restore"), "-t", lines[0][1:], *shlex.split(line), "--wait"]
            p = self(argv1, record=False)
            if p.status != 0:
                self.tables = saved
                return Completed(argv, p.status, "", f"{prog}: line {n} failed: {p.stderr}")
        return Completed(argv, 0, "", "")

    def __call__(self, argv: list[str], stdin: str | None = None, record: bool = True, **kw: object) -> Completed:
        prog = os.path.basename(argv[0])
        if prog.endswith("-restore"):
            return self.restore(argv, stdin or "")
        assert prog in ("iptables", "ip6tables"), argv
        assert argv[-1] == "--wait", argv
        args = list(argv[1:-1])
        if record:
            self.calls.append((prog, args))

        def out(rc: int = 0, stdout: str = "", stderr: str = "") -> Completed:
            return Completed(argv, rc, stdout, stderr)

        for pred, rc, err in self.failures:
            if pred(prog, args):  # type: ignore[operator]
                return out(rc, stderr=err)
        assert args[0] == "-t", args
        if args[2:] == ["-S"]:  # the whole table
            chains = self.chains(prog == "ip6tables", args[1])
            lines = [f"-P {c} ACCEPT" for c in chains if c in BUILTIN_CHAINS[args[1]]]
            lines += [f"-N {c}" for c in chains if c not in BUILTIN_CHAINS[args[1]]]
            lines += ["-A " + c + " " + " ".join(_quote(t) for t in r) for c, rs in chains.items() for r in rs]
            return out(0, "\n".join(lines) + "\n")
        table, op, chain, rest = args[1], args[2], args[3], args[4:]
        chains = self.chains(prog == "ip6tables", table)
        if op in ("-A", "-I", "-C") and "-j" in rest:
            target = rest[rest.index("-j") + 1]
            if target not in TARGETS and target not in chains:
                return out(2, stderr=f"iptables v1.8.9 (nf_tables): Chain '{target}' does not exist\n")
        if op == "-C":
            return out(0 if chain in chains and rest in chains[chain] else 1, stderr="" if rest in chains.get(chain, []) else BAD_RULE)
        if op == "-S":
            if chain not in chains:
                return out(1, stderr=f"iptables v1.8.9 (nf_tables): chain `{chain}' in table `{table}' is incompatible, use 'nft' tool.\n")
            head = f"-P {chain} ACCEPT" if chain in BUILTIN_CHAINS[table] else f"-N {chain}"
            lines = [head] + ["-A " + chain + " " + " ".join(_quote(t) for t in r) for r in chains[chain]]
            if rest == ["1"]:
                lines = lines[:1]
            return out(0, "\n".join(lines) + "\n")
        if op == "-N":
            if chain in chains:
                return out(1, stderr="iptables: Chain already exists.\n")
            chains[chain] = []
            return out()
        if op == "-A":
            if chain not in chains:
                return out(1, stderr=NO_CHAIN)
            chains[chain].append(rest)
            return out()
        if op == "-I":
            if chain not in chains:
                return out(1, stderr=NO_CHAIN)
            chains[chain].insert(int(rest[0]) - 1, rest[1:])
            return out()
        if op == "-D":
            if chain not in chains or rest not in chains[chain]:
                return out(1, stderr=BAD_RULE)
            chains[chain].remove(rest)
            return out()
        if op == "-F":
            if chain not in chains:
                return out(1, stderr=NO_CHAIN)
            chains[chain].clear()
            return out()
        if op == "-X":
            if chain not in chains:
                return out(1, stderr=NO_CHAIN)
            if any(r[r.index("-j") + 1] == chain for rs in chains.values() for r in rs if "-j" in r):
                return out(4, stderr=f"iptables v1.8.9 (nf_tables):  CHAIN_DEL failed (Device or resource busy): chain {chain}\n")
            del chains[chain]
            return out()
        raise AssertionError(f"unexpected iptables call {args}")


class FakeNft:
    """nft: records scripts; `list chain` answers from `chains` {(family, table, chain): [(handle, comment)]}."""

    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.calls: list[list[str]] = []
        self.chains: dict[tuple[str, str, str], list[tuple[int, str | None]]] = {}
        self.fail_script: str | None = None

    def __call__(self, argv: list[str], input: str | None = None, **kw: object) -> Completed:
        assert os.path.basename(argv[0]) == "nft", argv
        args = argv[1:]
        self.calls.append(args)
        if args == ["-f", "-"] or args == ["--check", "-f", "-"]:
            if args[0] == "-f":
                if self.fail_script is not None:
                    return Completed(argv, 1, "", self.fail_script)
                self.scripts.append(input or "")
            return Completed(argv, 0, "", "")
        if args == ["--version"]:
            return Completed(argv, 0, "nftables v1.0.6 (Lester Gooch #5)\n", "")
        if args[:3] == ["--json", "list", "table"]:
            keys = [k for k in self.chains if k[:2] == (args[3], args[4])]
            if not keys:
                return Completed(argv, 1, "", "Error: No such file or directory\nlist table ...\n")
            items = [{"metainfo": {"json_schema_version": 1}}, {"table": {"family": args[3], "name": args[4]}}]
            for key in keys:
                items += self._chain_items(key)
            return Completed(argv, 0, json.dumps({"nftables": items}), "")
        if args[:3] == ["--json", "list", "chain"]:
            key = (args[3], args[4], args[5])
            if key not in self.chains:
                return Completed(argv, 1, "", "Error: No such file or directory\nlist chain ...\n")
            items = [{"metainfo": {"json_schema_version": 1}}, *self._chain_items(key)]
            return Completed(argv, 0, json.dumps({"nftables": items}), "")
        raise AssertionError(f"unexpected nft call {args}")

    def _chain_items(self, key: tuple[str, str, str]) -> list[dict]:
        """`nft --json` objects of one chain: the chain, then its rules (with their comments)."""
        items: list[dict] = [{"chain": {"family": key[0], "table": key[1], "name": key[2], "handle": 1}}]
        for h, c in self.chains[key]:
            rule = {"family": key[0], "table": key[1], "chain": key[2], "handle": h, "expr": []}
            if c is not None:
                rule["comment"] = c
            items.append({"rule": rule})
        return items


class FakeNetfilter:
    """Both fakes behind one spawn.run, plus a PATH that has them."""

    def __init__(self) -> None:
        self.ipt = FakeXtables()
        self.nft = FakeNft()
        self.missing: set[str] = set()

    def which(self, prog: str) -> str | None:
        return None if prog in self.missing else f"/usr/sbin/{prog}"

    def run(self, argv: list[str], stdin: str | None = None, env: object = None) -> Completed:
        if os.path.basename(argv[0]) == "nft":
            return self.nft(argv, input=stdin)
        return self.ipt(argv, stdin=stdin)
