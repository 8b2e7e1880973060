"""Small shared helpers for netfilter: iptables/ip6tables and nft commands, and conntrack flushing.

The reference plugins drive iptables through go-iptables and nftables through knftables, i.e. by running
the `iptables`, `ip6tables` and `nft` programs; so does this module, in the netns of the calling thread.
Error texts follow those libraries ("running [...]: exit status N: ..."), so plugin errors read the same.
UDP conntrack flushing speaks ctnetlink directly (as the reference's netlink library does): there is no
`conntrack` program to rely on. Programs run through pycni.linux.spawn (never subprocess).

Batching: a plugin reads a table once (`iptables -t T -S`: Snapshot), computes what is missing or must go
(Txn) and applies it in one `iptables-restore -w --noflush` per table and family, so the change lands all
at once or not at all; nft changes go in one `nft -f -` script.
"""

from __future__ import annotations

from pycni.linux import spawn
from pycni.spec import gojson, ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


class NetfilterError(ValueError):
    """A failed netfilter operation (a plain plugin error: CNI code 999)."""


class ExecNotFoundError(NetfilterError):
    """The program is not on $PATH; str() is Go's exec.LookPath text."""

    def __init__(self, prog: str) -> None:
        super().__init__(f'exec: "{prog}": executable file not found in $PATH')


def _lookpath(prog: str) -> str:
    path = spawn.lookpath(prog)
    if path is None:
        raise ExecNotFoundError(prog)
    return path


def _exec(argv: list[str], stdin: str | None = None) -> spawn.Completed:
    """Run a found program; a spawn failure reads like Go's exec error."""
    try:
        return spawn.run(argv, stdin)
    except OSError as exc:
        raise NetfilterError(f"fork/exec {argv[0]}: {exc.strerror}") from None


def go_list(items: Iterable[object]) -> str:
    """Go's %v / %s of a []string (and, nested, of a [][]string)."""
    parts = []
    for i in items:
        parts.append(go_list(i) if isinstance(i, (list, tuple)) else str(i))
    return "[" + " ".join(parts) + "]"


# --- iptables (go-iptables semantics) ------------------------------------------------------------

_NOT_EXIST = (
    "Bad rule (does a matching rule exist in that chain?).\n",
    "No chain/target/match by that name.\n",
    "No such file or directory",
    "does not exist",
)


class IPTablesError(NetfilterError):
    """A non-zero exit of iptables/ip6tables."""

    def __init__(self, argv: list[str], status: int, stderr: str) -> None:
        super().__init__(f"running {go_list(argv)}: exit status {status}: {stderr}")
        self.argv = argv
        self.exit_status = status
        self.stderr = stderr
        self.stage = ""  # for a failed transaction: the Txn.stage its failing line was queued under

    def is_not_exist(self) -> bool:
        return any(p in self.stderr for p in _NOT_EXIST)


class IPTables:
    """One protocol's iptables program. Construction fails like iptables.NewWithProtocol when it is absent."""

    __slots__ = ("path", "prog", "v6")

    def __init__(self, v6: bool) -> None:
        self.v6 = v6
        self.prog = "ip6tables" if v6 else "iptables"
        self.path = _lookpath(self.prog)

    @property
    def proto(self) -> int:
        """go-iptables' Protocol value (0 IPv4, 1 IPv6), as upstream prints it in some errors."""
        return 1 if self.v6 else 0

    def run(self, *args: str) -> str:
        # go-iptables appends --wait (iptables >= 1.4.20) after the arguments.
        argv = [self.path, *args, "--wait"]
        p = _exec(argv)
        if p.status != 0:
            raise IPTablesError(argv, p.status, p.stderr)
        return p.stdout

    def snapshot(self, table: str, fresh: bool = False) -> Snapshot:
        """The whole table in one `-S` read (IPTablesError when the table cannot be listed); the backend
        probe's read of it when there is one and `fresh` is not asked for."""
        if not fresh:
            probed = _probed.pop((self.v6, table), None)
            if probed is not None:
                return probed
        return Snapshot(self, table, self.run("-t", table, "-S"))

    def has(self, snap: Snapshot, chain: str, rule: list[str]) -> bool:
        """Is the rule in the chain? Decided on the snapshot; a rule its key does not find (a spelling
        iptables prints differently, e.g. in user-given conditions) is confirmed by one `-C` run."""
        if snap.has(chain, rule):
            return True
        if not snap.has_chain(chain):
            return False
        try:
            return self.exists(snap.table, chain, rule)
        except IPTablesError:
            return False

    def restore(self, table: str, ops: list[str]) -> None:
        """Apply `ops` (iptables command lines without the table) in one transaction; -w waits for the
        xtables lock, as the reference's --wait does."""
        if not ops:
            return
        argv = [self.restore_path(), "-w", "--noflush"]
        p = _exec(argv, f"*{table}\n" + "\n".join(ops) + "\nCOMMIT\n")
        if p.status != 0:
            raise IPTablesError(argv, p.status, p.stderr)

    def restore_path(self) -> str:
        prog = self.prog + "-restore"
        path = spawn.lookpath(prog)
        if path is None:
            raise ExecNotFoundError(prog)
        return path

    def transact(self, table: str, build: Callable[[Txn], None], retries: int = 2,
                 snap: Snapshot | None = None) -> None:
        """Read the table (or use `snap`, just read), let `build` queue the changes, apply them at once.
        When a concurrent writer changed the table in between (the restore fails), read again and rebuild."""
        for attempt in range(retries + 1):
            txn = Txn(snap if snap is not None and attempt == 0 else self.snapshot(table, fresh=attempt > 0))
            build(txn)
            try:
                self.restore(table, txn.ops)
                return
            except IPTablesError as exc:
                if attempt == retries:
                    exc.stage = txn.stage_of(exc.stderr)
                    raise

    def _bool(self, *args: str) -> bool:
        try:
            self.run(*args)
        except IPTablesError as exc:
            if exc.exit_status == 1:
                return False
            raise
        return True

    def exists(self, table: str, chain: str, rule: list[str]) -> bool:
        return self._bool("-t", table, "-C", chain, *rule)

    def chain_exists(self, table: str, chain: str) -> bool:
        return self._bool("-t", table, "-S", chain, "1")

    def insert(self, table: str, chain: str, pos: int, rule: list[str]) -> None:
        self.run("-t", table, "-I", chain, str(pos), *rule)

    def append(self, table: str, chain: str, rule: list[str]) -> None:
        self.run("-t", table, "-A", chain, *rule)

    def delete(self, table: str, chain: str, rule: list[str]) -> None:
        self.run("-t", table, "-D", chain, *rule)

    def append_unique(self, table: str, chain: str, rule: list[str]) -> None:
        if not self.exists(table, chain, rule):
            self.append(table, chain, rule)

    def insert_unique(self, table: str, chain: str, prepend: bool, rule: list[str]) -> None:
        """utils.InsertUnique: add the rule unless present, at position 1 or at the end."""
        if self.exists(table, chain, rule):
            return
        if prepend:
            self.insert(table, chain, 1, rule)
        else:
            self.append(table, chain, rule)

    def new_chain(self, table: str, chain: str) -> None:
        self.run("-t", table, "-N", chain)

    def ensure_chain(self, table: str, chain: str) -> None:
        """utils.EnsureChain: create unless present (a racing creator is fine)."""
        try:
            exists = self.chain_exists(table, chain)
        except IPTablesError as exc:
            raise NetfilterError(f"failed to check iptables chain existence: {exc}") from None
        if not exists:
            try:
                self.new_chain(table, chain)
            except IPTablesError as exc:
                if exc.exit_status != 1:
                    raise

    def clear_and_delete_chain(self, table: str, chain: str) -> None:
        if not self.chain_exists(table, chain):
            return
        self.run("-t", table, "-F", chain)
        self.run("-t", table, "-X", chain)

    def delete_rule(self, table: str, chain: str, rule: list[str]) -> None:
        """utils.DeleteRule: delete, treating a missing rule or chain as done."""
        try:
            self.delete(table, chain, rule)
        except IPTablesError as exc:
            if exc.is_not_exist() or exc.exit_status == 2:
                return
            raise NetfilterError(f"Failed to delete referring rule {table} {chain}: {exc}") from None

    # last: from here on `list` in this class body would name the method
    def list(self, table: str, chain: str) -> list[str]:
        """`-S chain` lines (without the trailing empty line)."""
        out = self.run("-t", table, "-S", chain).split("\n")
        if out and out[-1] == "":
            out.pop()
        return out


# --- one table read once, changes applied at once -------------------------------------------------


def split_rule(line: str) -> list[str]:
    """Tokens of an `iptables -S` line: blanks separate, "..." quotes with \\" and \\\\ escapes."""
    out: list[str] = []
    cur: list[str] = []
    in_tok = quoted = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quoted:
            if ch == "\\" and i + 1 < n and line[i + 1] in '"\\':
                cur.append(line[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = in_tok = True
        elif ch in " \t":
            if in_tok:
                out.append("".join(cur))
                cur, in_tok = [], False
        else:
            cur.append(ch)
            in_tok = True
        i += 1
    if in_tok:
        out.append("".join(cur))
    return out


def quote_arg(tok: str) -> str:
    """One argument as iptables-save writes it (and iptables-restore reads it)."""
    if tok and not any(c in tok for c in ' \t"\'\\'):
        return tok
    return '"' + tok.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_text(rule: list[str]) -> str:
    return " ".join(quote_arg(t) for t in rule)


_IMPLICIT = ("tcp", "udp", "sctp", "udplite", "icmp", "icmp6", "icmpv6")
_ALIASES = {"--destination-ports": "--dports", "--source-ports": "--sports", "--destination-port": "--dport",
            "--source-port": "--sport", "--source": "-s", "--destination": "-d", "--jump": "-j",
            "--protocol": "-p", "--in-interface": "-i", "--out-interface": "-o", "--match": "-m"}


def _addr(tok: str) -> str:
    """An address argument as iptables prints it: host bits cleared, /32 or /128 added."""
    try:
        if "/" in tok:
            ip, plen = ipnet.parse_cidr(tok)
        else:
            parsed = ipnet.parse_ip(tok)
            if parsed is None:
                return tok
            ip, plen = parsed, ipnet.bits(parsed[0])
    except ValueError:
        return tok
    return ipnet.cidr_str((ip[0], ipnet.network(ip, plen)), plen)


def canon(rule: list[str]) -> tuple[tuple[str, ...], ...]:
    """A comparison key for a rule spec: the same for what we pass to -A and what -S prints back
    (option order, implicit protocol matches, long option names and address forms differ)."""
    groups: list[tuple[str, ...]] = []
    cur: list[str] = []
    neg = False
    for tok in rule:
        if tok == "!":
            neg = True
            continue
        if len(tok) > 1 and tok[0] == "-" and not tok[1].isdigit():
            if cur:
                groups.append(tuple(cur))
            cur = (["!"] if neg else []) + [_ALIASES.get(tok, tok)]
        else:
            if neg:
                cur.append("!")
            cur.append(_addr(tok) if cur and cur[-1] in ("-s", "-d") else tok)
        neg = False
    if cur:
        groups.append(tuple(cur))
    proto = next((g[1] for g in groups if g[0] == "-p" and len(g) > 1), None)
    groups = [g for g in groups if not (g[0] == "-m" and len(g) == 2 and g[1] == proto and proto in _IMPLICIT)]
    return tuple(sorted(groups))


def _target(rule: list[str]) -> str | None:
    for i in range(len(rule) - 2, -1, -1):
        if rule[i] in ("-j", "--jump", "-g", "--goto"):
            return rule[i + 1]
    return None


class Snapshot:
    """One table of one family as one `iptables -t T -S` printed it: chains in order, their rules."""

    __slots__ = ("_keys", "chains", "table", "v6")

    def __init__(self, ipt: IPTables | None, table: str, text: str) -> None:
        self.v6 = ipt.v6 if ipt is not None else False
        self.table = table
        self.chains: dict[str, list[list[str]]] = {}
        self._keys: dict[str, list[tuple[tuple[str, ...], ...]]] = {}
        for line in text.split("\n"):
            if line.startswith(("-P ", "-N ")):
                self.chains.setdefault(line.split(" ", 2)[1], [])
            elif line.startswith("-A "):
                toks = split_rule(line)
                self.chains.setdefault(toks[1], []).append(toks[2:])
        for name, rules in self.chains.items():
            self._keys[name] = [canon(r) for r in rules]

    def has_chain(self, chain: str) -> bool:
        return chain in self.chains

    def has(self, chain: str, rule: list[str]) -> bool:
        return canon(rule) in self._keys.get(chain, ())

    def rules(self, chain: str) -> list[list[str]]:
        return self.chains.get(chain, [])

    def jumps_to(self, target: str) -> list[tuple[str, list[str]]]:
        """(chain, rule) of every rule whose target is `target`."""
        out = []
        for chain, rules in self.chains.items():
            for r in rules:
                if _target(r) == target:
                    out.append((chain, r))
        return out

    # kept in step with the queued changes, so later checks in the same Txn see them
    def _add(self, chain: str, rule: list[str], pos: int | None) -> None:
        rules, keys = self.chains.setdefault(chain, []), self._keys.setdefault(chain, [])
        if pos is None:
            rules.append(rule)
            keys.append(canon(rule))
        else:
            rules.insert(pos, rule)
            keys.insert(pos, canon(rule))

    def _remove(self, chain: str, rule: list[str]) -> None:
        k = canon(rule)
        keys = self._keys.get(chain, [])
        if k in keys:
            i = keys.index(k)
            del keys[i]
            del self.chains[chain][i]


class Txn:
    """Changes to one table queued as iptables-restore lines, decided against a Snapshot."""

    __slots__ = ("_ops", "_stages", "snap", "stage")

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self._ops: list[str] = []
        self._stages: list[str] = []
        self.stage = ""  # a label the caller sets, reported for the line a failed restore names

    @property
    def ops(self) -> list[str]:
        return self._ops

    def _op(self, line: str) -> None:
        self._ops.append(line)
        self._stages.append(self.stage)

    def stage_of(self, stderr: str) -> str:
        """The stage of the op iptables-restore reports as failed ("line N failed"; line 1 is `*table`)."""
        i = stderr.find("line ")
        if i < 0:
            return ""
        num = stderr[i + 5:].split(" ", 1)[0]
        if not num.isdigit() or not 2 <= int(num) < len(self._stages) + 2:
            return ""
        return self._stages[int(num) - 2]

    def ensure_chain(self, chain: str) -> None:
        # `-N`, not a `:chain` header: with --noflush a header flushes an existing chain, and a chain made by
        # a concurrent writer must make this transaction fail (and be rebuilt), not lose its rules.
        if not self.snap.has_chain(chain):
            self._op(f"-N {chain}")
            self.snap.chains[chain] = []
            self.snap._keys[chain] = []

    def insert_unique(self, chain: str, prepend: bool, rule: list[str]) -> None:
        """utils.InsertUnique: unless present, at position 1 or at the end."""
        if self.snap.has(chain, rule):
            return
        if prepend:
            self._op(f"-I {chain} 1 {rule_text(rule)}")
            self.snap._add(chain, rule, 0)
        else:
            self._op(f"-A {chain} {rule_text(rule)}")
            self.snap._add(chain, rule, None)

    def append_unique(self, chain: str, rule: list[str]) -> None:
        self.insert_unique(chain, False, rule)

    def delete(self, chain: str, rule: list[str]) -> bool:
        """Delete one copy of the rule if the snapshot has it; False when there was none."""
        if not self.snap.has(chain, rule):
            return False
        self._op(f"-D {chain} {rule_text(rule)}")
        self.snap._remove(chain, rule)
        return True

    def delete_all(self, chain: str, rule: list[str]) -> None:
        while self.delete(chain, rule):
            pass

    def delete_chain(self, chain: str) -> None:
        """Flush and delete the chain if present, after removing every rule that jumps to it."""
        if not self.snap.has_chain(chain):
            return
        for ec, r in self.snap.jumps_to(chain):
            self.delete(ec, r)
        self._op(f"-F {chain}")
        self._op(f"-X {chain}")
        del self.snap.chains[chain]
        self.snap._keys.pop(chain, None)


def supports_iptables() -> bool:
    """utils.SupportsIPTables: iptables exists and can list a table. pycni lists `nat` (upstream: filter
    INPUT) and keeps that read for the plugin's own transaction on it, so the probe costs no extra run."""
    try:
        _probed[(False, "nat")] = IPTables(False).snapshot("nat")
    except NetfilterError:
        return False
    return True


# A table read by the probe, handed (once) to the next snapshot() of that table in this process.
_probed: dict[tuple[bool, str], Snapshot] = {}


# --- nft (knftables semantics) ---------------------------------------------------------------------


class NftError(NetfilterError):
    """A failed nft run; `not_found` / `exists` as knftables' IsNotFound / IsAlreadyExists."""

    def __init__(self, msg: str, not_found: bool = False, exists: bool = False) -> None:
        super().__init__(msg)
        self.not_found = not_found
        self.exists = exists


def _nft_error(stderr: str, fallback: str) -> NftError:
    msg = stderr or fallback
    first = msg.split("\n", 1)[0]
    return NftError(msg.rstrip("\n"), not_found="No such file or directory" in first, exists="File exists" in first)


def nft_path() -> str:
    try:
        return _lookpath("nft")
    except ExecNotFoundError as exc:
        raise NftError(f"could not find nftables binary: {exc}") from None


def nft(args: list[str], script: str | None = None) -> str:
    """Run nft with args (and `script` on stdin); NftError with nft's stderr on failure."""
    argv = [nft_path(), *args]
    p = _exec(argv, script)
    if p.status != 0:
        raise _nft_error(p.stderr, p.status_text())
    return p.stdout


def nft_run(script: str) -> None:
    """One atomic transaction (`nft -f -`)."""
    nft(["-f", "-"], script)


def nft_str(s: str) -> str:
    """A quoted nft string (knftables writes Go's %q; CNI names and IDs never need escapes)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nft_list_rules(family: str, table: str, chain: str) -> list[tuple[int, str | None]]:
    """knftables ListRules: (handle, comment) of the chain's rules, in order.

    NftError with not_found=True when the table or chain is absent.
    """
    return [(handle, comment) for _, handle, comment in _nft_list_rules(["chain", family, table, chain])]


def nft_list_table_rules(family: str, table: str) -> list[tuple[str, int, str | None]]:
    """(chain, handle, comment) of every rule of the table, in one `nft --json list table` run.

    NftError with not_found=True when the table is absent.
    """
    return _nft_list_rules(["table", family, table])


NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETTABLE = 1
NFTA_TABLE_NAME = 1
_NFPROTO = {"inet": 1, "ip": 2, "arp": 3, "netdev": 5, "bridge": 7, "ip6": 10}


def nft_table_exists(family: str, table: str) -> bool | None:
    """Is there such an nftables table in this netns? One nfnetlink request (well under a millisecond)
    instead of an `nft` run whose only news would be "No such file or directory". None when the kernel
    could not be asked: then the caller runs nft as it would have."""
    import _socket  # socket.py would load enum and selectors
    import errno

    from pycni.netlink import codec as c

    try:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
    except OSError:
        return None
    try:
        sock.settimeout(5.0)
        payload = bytes((_NFPROTO[family], 0, 0, 0)) + c.pack_attr(NFTA_TABLE_NAME, table.encode() + b"\0")
        sock.send(c.pack_msg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, c.NLM_F_REQUEST | c.NLM_F_ACK, 1,
                             payload))
        while True:
            for m in c.parse_messages(sock.recv(1 << 16)):
                if m.seq != 1:
                    continue
                if m.type != c.NLMSG_ERROR:
                    return True  # the table itself (its ACK follows)
                err, _ = c.parse_error(m)
                if err == 0:
                    return True
                return False if err == errno.ENOENT else None
    except (OSError, KeyError, c.CodecError):
        return None
    finally:
        sock.close()


def supports_nftables() -> bool:
    """utils.SupportsNFTables: knftables' sanity checks (nft >= 1.0.1, and allowed to add a table)."""
    try:
        ver = nft(["--version"])
        if ver.startswith(("nftables v0.", "nftables v1.0.0 ")):
            return False
        try:
            nft(["--check", "-f", "-"], 'add table ip supports_nftables_test { comment "test" ; }\n')
        except NftError:
            nft(["--check", "-f", "-"], "add table ip supports_nftables_test\n")
    except NetfilterError:
        return False
    return True


# --- conntrack (ctnetlink) -----------------------------------------------------------------------

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
CTA_TUPLE_ORIG = 1
CTA_TUPLE_PROTO = 2
CTA_PROTO_NUM = 1
CTA_PROTO_DST_PORT = 3
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_SCTP = 132


def _ct_matches(attrs_data: bytes, proto: int, port: int) -> bool:
    from pycni.netlink import codec as c

    for atype, data in c.parse_attrs(attrs_data):
        if atype != CTA_TUPLE_ORIG:
            continue
        for ttype, tdata in c.parse_attrs(data):
            if ttype != CTA_TUPLE_PROTO:
                continue
            num = dport = None
            for ptype, pdata in c.parse_attrs(tdata):
                if ptype == CTA_PROTO_NUM and pdata:
                    num = pdata[0]
                elif ptype == CTA_PROTO_DST_PORT and len(pdata) >= 2:
                    dport = int.from_bytes(pdata[:2], "big")
            return num == proto and dport == port
    return False


def delete_conntrack_dst_port(port: int, proto: int, family: int) -> int:
    """utils.DeleteConntrackEntriesForDstPort: drop the conntrack entries of `family` whose original
    destination port and protocol match. Returns how many were deleted."""
    import _socket  # socket.py would load enum and selectors
    import errno
    import os
    import sys

    from pycni.netlink import codec as c

    def _err(exc: BaseException) -> NetfilterError:
        return NetfilterError(f"error deleting connection tracking state for protocol: {proto} Port: {port}, "
                              f"error: {exc}")

    try:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
    except OSError as exc:
        raise _err(exc) from None
    try:  # _socket.socket is no context manager
        sock.settimeout(10.0)
        sock.bind((0, 0))
        pid = sock.getsockname()[0]
        nfgen = bytes((family, 0, 0, 0))
        seq = 1

        def send(msg_type: int, flags: int, payload: bytes) -> None:
            sock.send(c.pack_msg((NFNL_SUBSYS_CTNETLINK << 8) | msg_type, flags | c.NLM_F_REQUEST, seq, payload, pid))

        def collect() -> list[c.NlMsg]:
            out: list[c.NlMsg] = []
            while True:
                data = sock.recv(1 << 17)
                for m in c.parse_messages(data):
                    if m.seq != seq:
                        continue
                    if m.type == c.NLMSG_ERROR:
                        err, _ = c.parse_error(m)
                        if err:
                            raise OSError(err, os.strerror(err))
                        return out
                    if m.type == c.NLMSG_DONE:
                        return out
                    out.append(m)

        try:
            send(IPCTNL_MSG_CT_GET, c.NLM_F_DUMP, nfgen)
            flows = [m.payload[4:] for m in collect()
                     if len(m.payload) >= 4 and _ct_matches(m.payload[4:], proto, port)]
        except (OSError, c.CodecError) as exc:
            raise _err(exc) from None
        deleted = 0
        for raw in flows:
            seq += 1
            try:
                send(IPCTNL_MSG_CT_DELETE, c.NLM_F_ACK, nfgen + raw)
                collect()
                deleted += 1
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    continue  # gone in the meantime
                sys.stderr.write(f"failed to delete conntrack flow: {exc}\n")
        return deleted
    finally:
        sock.close()


# --- routing -------------------------------------------------------------------------------------


def routable_host_ifname(ip: str) -> str:
    """getRoutableHostIF: the name of the interface the kernel routes `ip` through, or ""."""
    import struct

    from pycni.linux import link
    from pycni.netlink import codec as c
    from pycni.netlink.socket import NetlinkError, NetlinkSocket

    fam = c.ip_family(ip)
    raw = c.ip_bytes(ip)
    payload = struct.pack("=BBBBBBBBI", fam, len(raw) * 8, 0, 0, 0, 0, 0, 0, 0) + c.pack_attr(c.RTA_DST, raw)
    try:
        with NetlinkSocket() as nl:
            msgs = nl.query(c.RTM_GETROUTE, payload)
            for m in msgs:
                if m.type != c.RTM_NEWROUTE:
                    continue
                oif = c.unpack_route(m.payload).oif
                if not oif:
                    continue
                try:
                    return link.link_by_index(oif, nl).name or ""
                except NetlinkError:
                    continue
    except (NetlinkError, OSError, c.CodecError):
        return ""
    return ""


def _nft_list_rules(what: list[str]) -> list[tuple[str, int, str | None]]:
    """(chain, handle, comment) of every rule `nft --json list <what>` prints (one run).

    A missing nft is reported as such, not as a failed run; NftError with not_found=True when the
    table or chain is absent.
    """
    nft_path()
    try:
        out = nft(["--json", "list", *what])
    except NftError as exc:
        raise NftError(f"failed to run nft: {exc}", exc.not_found, exc.exists) from None
    try:
        items = gojson.loads(out).get("nftables") or []
    except (gojson.JSONSyntaxError, AttributeError) as exc:
        raise NftError(f"unable to parse JSON output: could not parse nft output: {exc}") from None
    rules = []
    for item in items:
        rule = item.get("rule") if isinstance(item, dict) else None
        if isinstance(rule, dict):
            comment = rule.get("comment")
            rules.append((str(rule.get("chain", "")), int(rule.get("handle", 0)),
                          comment if isinstance(comment, str) else None))
    return rules
