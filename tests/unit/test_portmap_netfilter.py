"""pycni.linux.netfilter without root: go-iptables/knftables semantics over a fake iptables and nft.

Also home of FakeXtables / FakeNft, the in-memory stand-ins the portmap and firewall unit tests use
(imported from here): nothing in tests/unit ever runs a real iptables or nft, even as root.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from pycni.linux import netfilter as nf

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

    def __call__(self, argv: list[str], **kw: object) -> subprocess.CompletedProcess:
        prog = os.path.basename(argv[0])
        assert prog in ("iptables", "ip6tables"), argv
        assert argv[-1] == "--wait", argv
        args = list(argv[1:-1])
        self.calls.append((prog, args))

        def out(rc: int = 0, stdout: str = "", stderr: str = "") -> subprocess.CompletedProcess:
            return subprocess.CompletedProcess(argv, rc, stdout, stderr)

        for pred, rc, err in self.failures:
            if pred(prog, args):  # type: ignore[operator]
                return out(rc, stderr=err)
        assert args[0] == "-t", args
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

    def __call__(self, argv: list[str], input: str | None = None, **kw: object) -> subprocess.CompletedProcess:
        assert os.path.basename(argv[0]) == "nft", argv
        args = argv[1:]
        self.calls.append(args)
        if args == ["-f", "-"] or args == ["--check", "-f", "-"]:
            if args[0] == "-f":
                if self.fail_script is not None:
                    return subprocess.CompletedProcess(argv, 1, "", self.fail_script)
                self.scripts.append(input or "")
            return subprocess.CompletedProcess(argv, 0, "", "")
        if args == ["--version"]:
            return subprocess.CompletedProcess(argv, 0, "nftables v1.0.6 (Lester Gooch #5)\n", "")
        if args[:3] == ["--json", "list", "chain"]:
            key = (args[3], args[4], args[5])
            if key not in self.chains:
                return subprocess.CompletedProcess(argv, 1, "", "Error: No such file or directory\nlist chain ...\n")
            items: list[dict] = [{"metainfo": {"json_schema_version": 1}},
                                 {"chain": {"family": key[0], "table": key[1], "name": key[2], "handle": 1}}]
            for h, c in self.chains[key]:
                rule = {"family": key[0], "table": key[1], "chain": key[2], "handle": h, "expr": []}
                if c is not None:
                    rule["comment"] = c
                items.append({"rule": rule})
            return subprocess.CompletedProcess(argv, 0, json.dumps({"nftables": items}), "")
        raise AssertionError(f"unexpected nft call {args}")


class FakeNetfilter:
    """Both fakes behind one subprocess.run, plus a PATH that has them."""

    def __init__(self) -> None:
        self.ipt = FakeXtables()
        self.nft = FakeNft()
        self.missing: set[str] = set()

    def which(self, prog: str) -> str | None:
        return None if prog in self.missing else f"/usr/sbin/{prog}"

    def run(self, argv: list[str], **kw: object) -> subprocess.CompletedProcess:
        if os.path.basename(argv[0]) == "nft":
            return self.nft(argv, **kw)  # type: ignore[arg-type]
        return self.ipt(argv, **kw)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNetfilter:
    f = FakeNetfilter()
    monkeypatch.setattr(nf.subprocess, "run", f.run)
    monkeypatch.setattr(nf.shutil, "which", f.which)
    return f


# --- tests -------------------------------------------------------------------------------------


def test_go_list_formats_like_go() -> None:
    assert nf.go_list(["-j", "X"]) == "[-j X]"
    assert nf.go_list([["-p", "tcp"], ["-j", "DNAT"]]) == "[[-p tcp] [-j DNAT]]"
    assert nf.go_list([]) == "[]"


def test_iptables_missing_binary_is_gos_lookpath_error(fake: FakeNetfilter) -> None:
    fake.missing.add("ip6tables")
    with pytest.raises(nf.ExecNotFoundError) as ei:
        nf.IPTables(True)
    assert str(ei.value) == 'exec: "ip6tables": executable file not found in $PATH'
    assert nf.IPTables(False).proto == 0


def test_iptables_error_text_is_go_iptables(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(False)
    with pytest.raises(nf.IPTablesError) as ei:
        ipt.run("-t", "nat", "-F", "NOPE")
    e = ei.value
    assert str(e) == f"running [/usr/sbin/iptables -t nat -F NOPE --wait]: exit status 1: {NO_CHAIN}"
    assert e.exit_status == 1 and e.is_not_exist()


def test_exists_and_chain_exists_map_exit_1_to_false(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(False)
    assert ipt.chain_exists("nat", "OUTPUT")
    assert not ipt.chain_exists("nat", "NOPE")
    assert not ipt.exists("nat", "OUTPUT", ["-j", "ACCEPT"])
    with pytest.raises(nf.IPTablesError):  # exit 2 is an error, not "absent"
        ipt.exists("nat", "OUTPUT", ["-j", "NOPE"])


def test_ensure_chain_insert_unique_and_delete_rule(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(True)
    ipt.ensure_chain("filter", "X")
    ipt.ensure_chain("filter", "X")
    ipt.insert_unique("filter", "X", False, ["-j", "ACCEPT"])
    ipt.insert_unique("filter", "X", True, ["-j", "DROP"])
    ipt.insert_unique("filter", "X", True, ["-j", "DROP"])
    assert fake.ipt.rules(True, "filter", "X") == [["-j", "DROP"], ["-j", "ACCEPT"]]
    assert fake.ipt.rules(False, "filter", "X") == []
    ipt.delete_rule("filter", "X", ["-j", "RETURN"])  # absent: fine
    ipt.delete_rule("filter", "NOPE", ["-j", "RETURN"])
    fake.ipt.fail_when(lambda p, a: a[2] == "-D", 4, "iptables: weird.\n")
    with pytest.raises(nf.NetfilterError, match=r"^Failed to delete referring rule filter X: running "):
        ipt.delete_rule("filter", "X", ["-j", "DROP"])


def test_ensure_chain_wraps_probe_failure(fake: FakeNetfilter) -> None:
    fake.ipt.fail_when(lambda p, a: a[2] == "-S", 3, "iptables: locked.\n")
    with pytest.raises(nf.NetfilterError, match=r"^failed to check iptables chain existence: running \[/usr/sbin/iptables -t nat -S C 1 --wait\]: exit status 3"):
        nf.IPTables(False).ensure_chain("nat", "C")


def test_list_strips_trailing_line(fake: FakeNetfilter) -> None:
    ipt = nf.IPTables(False)
    ipt.append("nat", "OUTPUT", ["-m", "comment", "--comment", 'a "b"', "-j", "ACCEPT"])
    assert ipt.list("nat", "OUTPUT") == ["-P OUTPUT ACCEPT", '-A OUTPUT -m comment --comment "a \\"b\\"" -j ACCEPT']


def test_supports_iptables_and_nftables(fake: FakeNetfilter) -> None:
    assert nf.supports_iptables()
    assert nf.supports_nftables()
    assert fake.nft.calls[-1] == ["--check", "-f", "-"]
    fake.missing.update({"iptables", "nft"})
    assert not nf.supports_iptables()
    assert not nf.supports_nftables()


def test_supports_nftables_rejects_old_nft(fake: FakeNetfilter, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fake.nft.__call__

    def old(argv: list[str], **kw: object) -> subprocess.CompletedProcess:
        if argv[1:] == ["--version"]:
            return subprocess.CompletedProcess(argv, 0, "nftables v1.0.0 (Fearless Fosdick #3)\n", "")
        return real(argv, **kw)

    monkeypatch.setattr(fake, "nft", old)
    assert not nf.supports_nftables()


def test_nft_errors_and_listing(fake: FakeNetfilter) -> None:
    with pytest.raises(nf.NftError) as ei:
        nf.nft_list_rules("ip", "cni_hostport", "hostports")
    assert ei.value.not_found and str(ei.value).startswith("failed to run nft: Error: No such file or directory")
    fake.nft.chains[("ip", "cni_hostport", "hostports")] = [(4, "cid"), (5, None)]
    assert nf.nft_list_rules("ip", "cni_hostport", "hostports") == [(4, "cid"), (5, None)]
    fake.nft.fail_script = "Error: Could not process rule: File exists\n"
    with pytest.raises(nf.NftError) as ei:
        nf.nft_run("add table ip x\n")
    assert ei.value.exists and not ei.value.not_found
    fake.missing.add("nft")
    with pytest.raises(nf.NftError, match=r'^could not find nftables binary: exec: "nft": executable file not found'):
        nf.nft_list_rules("ip", "cni_hostport", "hostports")


def test_nft_str_quotes() -> None:
    assert nf.nft_str("CNI portmap plugin") == '"CNI portmap plugin"'
    assert nf.nft_str('a"b\\') == '"a\\"b\\\\"'


# --- ctnetlink flow matching -------------------------------------------------------------------


def _flow(proto: int, dport: int) -> bytes:
    from pycni.netlink import codec as c

    ip = c.pack_nested(1, [c.pack_attr(1, socket.inet_aton("10.0.0.1")), c.pack_attr(2, socket.inet_aton("10.0.0.2"))])
    pr = c.pack_nested(2, [c.pack_attr(1, bytes((proto,))), c.pack_attr(2, (1234).to_bytes(2, "big")),
                           c.pack_attr(3, dport.to_bytes(2, "big"))])
    return c.pack_nested(nf.CTA_TUPLE_ORIG, [ip, pr]) + c.pack_u32(12, 7)


def test_conntrack_flow_match_uses_original_tuple_proto_and_port() -> None:
    assert nf._ct_matches(_flow(17, 5353), nf.PROTO_UDP, 5353)
    assert not nf._ct_matches(_flow(6, 5353), nf.PROTO_UDP, 5353)
    assert not nf._ct_matches(_flow(17, 5354), nf.PROTO_UDP, 5353)
    assert not nf._ct_matches(b"", nf.PROTO_UDP, 5353)
