"""IP masquerade for a container's addresses (ptp and bridge `ipMasq`), iptables or nftables.

The same kernel objects as the reference (pkg/ip/ipmasq_*): with iptables a per-container nat
chain `CNI-<hash>` reached from POSTROUTING; with nftables rules in `inet cni_plugins_masquerade`
tagged by a comment carrying the network and instance hashes. Setup is one transaction per family
(one iptables-restore, or one nft script). Teardown and GC find the objects by name and comment alone
(both derive from the network name and container ID), so they need neither the netns nor the addresses.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.linux import netfilter as nf
from pycni.linux import spawn
from pycni.spec import ipnet

try:
    from _sha512 import sha512  # type: ignore[import-not-found]  # built in: hashlib would load OpenSSL
except ImportError:  # pragma: no cover - Python 3.12+ keeps it in _sha2
    from _sha2 import sha512  # type: ignore[import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

TABLE = "cni_plugins_masquerade"
CHAIN = "masq_checks"
COMMENT_MAX = 128  # knftables' limit


class IPMasqError(ValueError):
    pass


def _hash(length: int, prefix: str, text: str) -> str:
    return (prefix + sha512(text.encode()).hexdigest())[:length]


def chain_name(network: str, container_id: str) -> str:
    return _hash(28, "CNI-", network + container_id)


def iptables_comment(network: str, container_id: str) -> str:
    return f"name: {q(network)} id: {q(container_id)}"


def network_hash(network: str) -> str:
    return _hash(16, "", network)


def instance_hash(network: str, ifname: str, container_id: str) -> str:
    return network_hash(network) + "-" + _hash(16, "", ifname + ":" + container_id)


def nft_comment(network: str, ifname: str, container_id: str) -> str:
    c = "{}, net: {}, if: {}, id: {}".format(
        instance_hash(network, ifname, container_id),
        network.replace('"', ""), ifname.replace('"', ""), container_id.replace('"', ""),
    )
    return c[:COMMENT_MAX]


def supports_nftables() -> bool:
    return spawn.lookpath("nft") is not None and _nft_ok(["nft", "list", "tables"])


def _nft_ok(argv: list[str]) -> bool:
    try:
        return spawn.run(argv).status == 0
    except OSError:
        return False


# --- iptables ----------------------------------------------------------------------------------


def _families(cidrs: list[str]) -> dict[bool, list[tuple[ipnet.IP, int]]]:
    """The CIDRs parsed, grouped by family (v6?), in order."""
    out: dict[bool, list[tuple[ipnet.IP, int]]] = {}
    for cidr in cidrs:
        ip, plen = ipnet.parse_cidr(cidr)
        out.setdefault(ip[0] == 6, []).append((ip, plen))
    return out


def _iptables_setup(v6: bool, nets: list[tuple[ipnet.IP, int]], chain: str, comment: str) -> None:
    """One transaction, and for a first ADD no read either: the container's chain cannot exist yet and
    nothing can jump to a missing chain, so every rule is new. When `-N` fails (a repeated ADD finds its
    chain) the table is read and only what is missing is added."""
    multicast = "ff00::/8" if v6 else "224.0.0.0/4"
    tag = ["-m", "comment", "--comment", comment]

    def build(txn: nf.Txn) -> None:
        txn.ensure_chain(chain)
        for ip, plen in nets:
            txn.append_unique(chain, ["-d", ipnet.cidr_str((ip[0], ipnet.network(ip, plen)), plen), "-j", "ACCEPT"] + tag)
            txn.append_unique(chain, ["!", "-d", multicast, "-j", "MASQUERADE"] + tag)
            txn.append_unique("POSTROUTING", ["-s", ipnet.ip_str(ip), "-j", chain] + tag)

    try:
        ipt = nf.IPTables(v6)
        fresh = nf.Txn(nf.Snapshot(ipt, "nat", ""))
        build(fresh)
        try:
            ipt.restore("nat", fresh.ops)
            return
        except nf.IPTablesError:
            pass  # the chain is there already (or the table cannot be used: the read below says so)
        ipt.transact("nat", build)
    except nf.NetfilterError as exc:
        raise IPMasqError(str(exc)) from None


def _iptables_remove(ipt: nf.IPTables, chains: list[str]) -> None:
    """Remove the chains and every rule jumping to them, in one transaction."""
    def build(txn: nf.Txn) -> None:
        for chain in chains:
            txn.delete_chain(chain)

    ipt.transact("nat", build)


def _failed_write(exc: nf.NetfilterError) -> bool:
    """The change itself failed (not the read of a family that may be unusable here)."""
    return isinstance(exc, nf.IPTablesError) and exc.argv[0].endswith("-restore")


def _own_chains(snap: nf.Snapshot, network: str) -> dict[str, str]:
    """{chain: container ID} of this network's masquerade chains: the rule comment names the network and
    the container, and the chain's name is the hash of both (so nothing else can match)."""
    prefix = f"name: {q(network)} id: "
    out: dict[str, str] = {}
    for chain, rules in snap.chains.items():
        if not chain.startswith("CNI-"):
            continue
        for r in rules:
            for i in range(len(r) - 1):
                if r[i] == "--comment" and r[i + 1].startswith(prefix):
                    cid = _unquote(r[i + 1][len(prefix):])
                    if cid is not None and chain_name(network, cid) == chain:
                        out[chain] = cid
    return out


def _unquote(s: str) -> str | None:
    """The inverse of gofmt.q for the plain strings container IDs are (None when it is not one)."""
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        return None
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")


# --- nftables ----------------------------------------------------------------------------------


def _nft(script: str) -> None:
    try:
        nf.nft_run(script)
    except nf.NetfilterError as exc:
        raise IPMasqError(f"nft: {str(exc).strip()}") from None


def _nft_rules(prefix: str) -> list[tuple[int, str]]:
    """(handle, comment) of rules in the masq chain whose comment starts with prefix."""
    try:
        rules = nf.nft_list_rules("inet", TABLE, CHAIN)
    except nf.NetfilterError:
        return []  # no nft, no table or chain yet: nothing to find
    return [(h, c) for h, c in rules if c is not None and c.startswith(prefix)]


_nft_str = nf.nft_str


def _nft_setup(cidrs: list[str], network: str, ifname: str, container_id: str) -> None:
    # a first ADD finds no table: no listing to run
    stale = _nft_rules(instance_hash(network, ifname, container_id)) \
        if nf.nft_table_exists("inet", TABLE) is not False else []
    comment = nft_comment(network, ifname, container_id)
    lines = [
        f"add table inet {TABLE} {{ comment {_nft_str('Masquerading for plugins from github.com/containernetworking/plugins')} ; }}",
        f"add chain inet {TABLE} {CHAIN} {{ comment {_nft_str('Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet')} ; }}",
        f"add chain inet {TABLE} postrouting {{ type nat hook postrouting priority srcnat ; }}",
        f"flush chain inet {TABLE} postrouting",
        f"add rule inet {TABLE} postrouting ip daddr == 224.0.0.0/4 return",
        f"add rule inet {TABLE} postrouting ip6 daddr == ff00::/8 return",
        f"add rule inet {TABLE} postrouting goto {CHAIN}",
    ]
    lines += [f"delete rule inet {TABLE} {CHAIN} handle {h}" for h, _ in stale]
    for cidr in cidrs:
        (fam, v), plen = ipnet.parse_cidr(cidr)
        kw = "ip" if fam == 4 else "ip6"
        net = ipnet.cidr_str((fam, ipnet.network((fam, v), plen)), plen)
        lines.append(f"add rule inet {TABLE} {CHAIN} {kw} saddr == {ipnet.ip_str((fam, v))} "
                     f"{kw} daddr != {net} masquerade comment {_nft_str(comment)}")
    _nft("\n".join(lines) + "\n")


def _nft_delete(handles: Iterable[int]) -> None:
    lines = [f"delete rule inet {TABLE} {CHAIN} handle {h}" for h in handles]
    if lines:
        _nft("\n".join(lines) + "\n")


# --- the plugin-facing verbs (pkg/ip SetupIPMasqForNetworks & co) --------------------------------


def setup(backend: str | None, cidrs: list[str], network: str, ifname: str, container_id: str) -> None:
    fams = _families(cidrs)
    if backend is None:
        # utils' choice (iptables unless only nftables is usable), probed only when iptables fails
        try:
            _iptables_all(fams, network, container_id)
        except IPMasqError:
            if nf.supports_iptables() or not supports_nftables():
                raise
            _nft_setup(cidrs, network, ifname, container_id)
    elif backend == "iptables":
        _iptables_all(fams, network, container_id)
    elif backend == "nftables":
        _nft_setup(cidrs, network, ifname, container_id)
    else:
        raise IPMasqError(f'unknown ipmasq backend "{backend}"')


def _iptables_all(fams: dict[bool, list[tuple[ipnet.IP, int]]], network: str, container_id: str) -> None:
    chain, comment = chain_name(network, container_id), iptables_comment(network, container_id)
    for v6, nets in fams.items():
        _iptables_setup(v6, nets, chain, comment)


def teardown(cidrs: list[str] | None, network: str, ifname: str, container_id: str) -> None:
    """Remove the container's masquerade objects on both backends (the config may have changed since ADD),
    found by name and comment: `cidrs` is not needed (kept for callers); idempotent. Errors are reported
    for a family only when it cannot be read and `cidrs` says it was used."""
    want = set(_families(cidrs or [])) if cidrs else set()
    errs = []
    chain = chain_name(network, container_id)
    for v6 in (False, True):
        try:
            ipt = nf.IPTables(v6)
        except nf.NetfilterError as exc:
            if v6 in want:
                errs.append(str(exc))
            continue
        try:
            _iptables_remove(ipt, [chain])
        except nf.NetfilterError as exc:
            if v6 in want or _failed_write(exc):
                errs.append(str(exc))
    if spawn.lookpath("nft") is not None and nf.nft_table_exists("inet", TABLE) is not False:
        try:
            _nft_delete(h for h, _ in _nft_rules(instance_hash(network, ifname, container_id)))
        except IPMasqError as exc:
            errs.append(str(exc))
    if errs:
        raise IPMasqError("\n".join(errs))


def gc(network: str, valid: list[tuple[str, str]]) -> None:
    """Delete this network's masquerade chains (iptables) and rules (nftables) whose attachment is not in
    `valid` ((container ID, ifname) pairs)."""
    errs = []
    keep_chains = {chain_name(network, cid) for cid, _ in valid}
    for v6 in (False, True):
        try:
            ipt = nf.IPTables(v6)
            stale = [c for c in _own_chains(ipt.snapshot("nat"), network) if c not in keep_chains]
            if stale:
                _iptables_remove(ipt, stale)
        except nf.NetfilterError as exc:
            if _failed_write(exc):
                errs.append(str(exc))
            # else this family's iptables is absent or unusable: nothing of ours can be there
    if spawn.lookpath("nft") is not None and nf.nft_table_exists("inet", TABLE) is not False:
        keep = {nft_comment(network, ifname, cid) for cid, ifname in valid}
        try:
            _nft_delete(h for h, c in _nft_rules(network_hash(network)) if c not in keep)
        except IPMasqError as exc:
            errs.append(str(exc))
    if errs:
        raise IPMasqError("\n".join(errs))
