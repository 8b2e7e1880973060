"""portmap's iptables backend (nat table of iptables / ip6tables), rule for rule as upstream.

PREROUTING, OUTPUT: -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
CNI-HOSTPORT-DNAT:  one multiport rule per protocol (15 ports at most each) -j CNI-DN-<hash>
CNI-DN-<hash>:      per mapping: hairpin mark, localhost mark (v4), DNAT
POSTROUTING:        (position 1) -j CNI-HOSTPORT-MASQ: masquerade what CNI-HOSTPORT-SETMARK marked
Only the per-container chain is removed on DEL; the shared chains stay, as upstream.
ADD and DEL read the nat table once and apply their changes in one iptables-restore per family.
"""

from __future__ import annotations

from pycni.gofmt import sprintf
from pycni.linux.netfilter import IPTables, IPTablesError, NetfilterError, Snapshot, Txn, go_list
from pycni.plugins.meta.portmap.config import host_ip_family_ok
from pycni.spec.ipnet import family_of

try:
    from _sha512 import sha512  # type: ignore[import-not-found]  # built in: hashlib would load OpenSSL
except ImportError:  # pragma: no cover - Python 3.12+ keeps it in _sha2
    from _sha2 import sha512  # type: ignore[import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOP_DNAT = "CNI-HOSTPORT-DNAT"
SETMARK = "CNI-HOSTPORT-SETMARK"
MARK_MASQ = "CNI-HOSTPORT-MASQ"
OLD_TOP_SNAT = "CNI-HOSTPORT-SNAT"
COMMENT_MAX = 255


class Chain:
    """A chain, the rules it holds and the rules in other chains that jump to it."""

    __slots__ = ("entry_chains", "entry_rules", "name", "prepend_entry", "rules", "table")

    def __init__(self, name: str, entry_chains: list[str] | None = None, entry_rules: list[list[str]] | None = None,
                 rules: list[list[str]] | None = None, prepend_entry: bool = False, table: str = "nat") -> None:
        self.table = table
        self.name = name
        self.entry_chains = entry_chains or []
        self.entry_rules = entry_rules or []
        self.rules = rules or []
        self.prepend_entry = prepend_entry

    def _entries(self) -> list[tuple[str, list[str]]]:
        return [(ec, rule + ["-j", self.name]) for ec in self.entry_chains for rule in self.entry_rules]

    def setup(self, txn: Txn) -> None:
        """Idempotent: create the chain, append missing rules, add missing entry rules."""
        txn.ensure_chain(self.name)
        for rule in self.rules:
            txn.insert_unique(self.name, False, rule)
        for ec, rule in self._entries():
            txn.insert_unique(ec, self.prepend_entry, rule)

    def teardown(self, txn: Txn) -> None:
        """Idempotent: remove every rule that jumps to the chain (also ones that no longer match ours:
        written with other conditions), then the chain."""
        txn.delete_chain(self.name)

    def check(self, ipt: IPTables, snap: Snapshot) -> None:
        if not snap.has_chain(self.name):
            raise NetfilterError(f"chain {self.name} not found in iptables table {self.table}")
        for rule in reversed(self.rules):
            if not ipt.has(snap, self.name, rule):
                raise NetfilterError(f"rule {go_list(self.rules)} in chain {self.name} not found in table {self.table}")
        for ec in self.entry_chains:
            for rule in reversed(self.entry_rules):
                if not ipt.has(snap, ec, rule + ["-j", self.name]):
                    raise NetfilterError(f"rule {go_list(self.entry_rules)} in chain {ec} not found in table "
                                         f"{self.table}")


def chain_name(prefix: str, network: str, container_id: str) -> str:
    """utils.MustFormatChainNameWithPrefix: "CNI-" + prefix + sha512 hex, 28 characters in all."""
    return ("CNI-" + prefix + sha512((network + container_id).encode()).hexdigest())[:28]


def mark_def(bit: int) -> str:
    v = 1 << bit
    return f"{v:#x}/{v:#x}"


def setmark_chain(bit: int) -> Chain:
    return Chain(SETMARK, rules=[["-m", "comment", "--comment", "CNI portfwd masquerade mark",
                                  "-j", "MARK", "--set-xmark", mark_def(bit)]])


def mark_masq_chain(bit: int) -> Chain:
    # Prepended in POSTROUTING so that ptp/bridge masquerade rules do not shadow it.
    return Chain(MARK_MASQ, entry_chains=["POSTROUTING"], prepend_entry=True,
                 entry_rules=[["-m", "comment", "--comment", "CNI portfwd requiring masquerade"]],
                 rules=[["-m", "mark", "--mark", mark_def(bit), "-j", "MASQUERADE"]])


def toplevel_dnat_chain() -> Chain:
    return Chain(TOP_DNAT, entry_chains=["PREROUTING", "OUTPUT"],
                 entry_rules=[["-m", "addrtype", "--dst-type", "LOCAL"]])


def dnat_chain(network: str, container_id: str) -> Chain:
    return Chain(chain_name("DN-", network, container_id), entry_chains=[TOP_DNAT])


def old_snat_chain(network: str, container_id: str) -> Chain:
    """No longer created; removed on DEL in case an old version made it."""
    return Chain(chain_name("SN-", network, container_id), entry_chains=[OLD_TOP_SNAT])


def trim_comment(val: str) -> str:
    return val if len(val) <= COMMENT_MAX else val[:253] + "..."


def split_port_list(ports: list[int]) -> list[str]:
    """multiport takes at most 15 ports per rule."""
    return [",".join(str(p) for p in ports[i:i + 15]) for i in range(0, len(ports), 15)]


def ip_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if family_of(ip) == 6 else f"{ip}:{port}"


def fill_dnat_rules(chain: Chain, conf: dict[str, Any], cont_net: str) -> None:
    """The entry rules (grouped by protocol) and, per mapping, mark and DNAT rules for one container IP."""
    v6 = family_of(cont_net) == 6
    cont_ip = cont_net.split("/")[0]
    comment = trim_comment(f'dnat name: "{conf.get("name", "")}" id: "{conf["containerID"]}"')
    entries = conf["portMappings"]
    setmark = conf.get("externalSetMarkChain")
    if setmark is None:
        setmark = SETMARK
    by_proto: dict[str, list[int]] = {}
    for e in entries:
        by_proto.setdefault(e["protocol"], []).append(e["hostPort"])
    conditions = conf.get("conditionsV6" if v6 else "conditionsV4") or []
    chain.entry_rules = []
    for proto in sorted(by_proto):
        for spec in split_port_list(by_proto[proto]):
            chain.entry_rules.append(["-m", "comment", "--comment", comment, "-m", "multiport", "-p", proto,
                                      "--destination-ports", spec] + list(conditions))
    chain.rules = []
    for e in entries:
        use, with_dst = host_ip_family_ok(e["hostIP"], v6)
        if not use:
            continue
        base = ["-p", e["protocol"], "--dport", str(e["hostPort"])]
        if with_dst:
            base += ["-d", e["hostIP"]]
        if conf["snat"]:
            masq_cidr = ("::/0" if v6 else "0.0.0.0/0") if conf.get("masqAll") else cont_net
            chain.rules.append(base + ["-s", masq_cidr, "-j", setmark])
            if not v6 and not conf.get("masqAll"):
                chain.rules.append(base + ["-s", "127.0.0.1", "-j", setmark])
        chain.rules.append(base + ["-j", "DNAT", "--to-destination", ip_port(cont_ip, e["containerPort"])])


def forward_ports(conf: dict[str, Any], cont_net: str) -> None:
    """All of this family's rules in one transaction: they appear together or not at all."""
    v6 = family_of(cont_net) == 6
    try:
        ipt = IPTables(v6)
    except NetfilterError as exc:
        raise NetfilterError(f"failed to open iptables: {exc}") from None
    dn = dnat_chain(conf.get("name", ""), conf["containerID"])
    fill_dnat_rules(dn, conf, cont_net)

    def build(txn: Txn) -> None:
        if conf["snat"] and conf.get("externalSetMarkChain") is None:
            txn.stage = f"unable to create chain {SETMARK}: "
            setmark_chain(conf["markMasqBit"]).setup(txn)
            mark_masq_chain(conf["markMasqBit"]).setup(txn)  # sic: upstream names the SETMARK chain here too
        txn.stage = "failed to create top-level DNAT chain: "
        toplevel_dnat_chain().setup(txn)
        txn.stage = "unable to setup DNAT: "
        dn.setup(txn)

    try:
        ipt.transact("nat", build)
    except IPTablesError as exc:
        raise NetfilterError(f"{exc.stage or 'unable to setup DNAT: '}{exc}") from None
    except NetfilterError as exc:
        raise NetfilterError(f"unable to setup DNAT: {exc}") from None


def _maybe_iptables(v6: bool) -> tuple[tuple[IPTables, Snapshot] | None, NetfilterError | None]:
    """maybeGetIptables: a handle if this protocol's iptables can list the nat table (upstream lists
    `nat OUTPUT`), with that listing."""
    try:
        ipt = IPTables(v6)
        snap = ipt.snapshot("nat")
    except NetfilterError as exc:
        return None, exc
    return (ipt, snap), None


def _neither(err4: object, err6: object) -> NetfilterError:
    return NetfilterError(sprintf("neither iptables nor ip6tables is usable, (iptables) %v, (ip6tables) %v", err4, err6))


def check_ports(conf: dict[str, Any], cont_net: str) -> None:
    v6 = family_of(cont_net) == 6
    dn = dnat_chain(conf.get("name", ""), conf["containerID"])
    fill_dnat_rules(dn, conf, cont_net)
    usable, err = _maybe_iptables(v6)
    if usable is None:
        raise _neither(None if v6 else err, err if v6 else None)
    try:
        dn.check(*usable)
    except NetfilterError as exc:
        raise NetfilterError(f"could not check ipv{6 if v6 else 4} dnat: {exc}") from None


def unforward_ports(conf: dict[str, Any]) -> None:
    """Remove the container's chain(s) in both families, one transaction each; fine when they are absent.
    The table read doubles as upstream's usability probe (maybeGetIptables lists `nat OUTPUT`)."""
    dn = dnat_chain(conf.get("name", ""), conf["containerID"])
    old = old_snat_chain(conf.get("name", ""), conf["containerID"])
    usable: list[tuple[int, IPTables, Any]] = []
    errs: list[NetfilterError | None] = []
    for v6 in (False, True):
        try:
            ipt = IPTables(v6)
            snap = ipt.snapshot("nat")
        except NetfilterError as exc:
            errs.append(exc)
            continue
        errs.append(None)
        usable.append((6 if v6 else 4, ipt, snap))
    if not usable:
        raise _neither(errs[0], errs[1])
    for fam, ipt, snap in usable:
        def build(txn: Txn) -> None:
            dn.teardown(txn)
            old.teardown(txn)

        try:
            ipt.transact("nat", build, snap=snap)
        except NetfilterError as exc:
            raise NetfilterError(f"could not teardown ipv{fam} dnat: {exc}") from None
