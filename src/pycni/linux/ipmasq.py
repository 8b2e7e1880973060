"""IP masquerade for a container's addresses (ptp and bridge `ipMasq`), iptables or nftables.

The same kernel objects as the reference (pkg/ip/ipmasq_*): with iptables a per-container nat
chain `CNI-<hash>` reached from POSTROUTING; with nftables rules in `inet cni_plugins_masquerade`
tagged by a comment carrying the network and instance hashes, so teardown and GC find them.
Runs the iptables/nft commands (as the reference libraries do), in the current netns.
Imported only when ipMasq is used: it needs subprocess.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

from pycni.spec import ipnet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

TABLE = "cni_plugins_masquerade"
CHAIN = "masq_checks"
COMMENT_MAX = 128  # knftables' limit


class IPMasqError(ValueError):
    pass


def _hash(length: int, prefix: str, text: str) -> str:
    return (prefix + hashlib.sha512(text.encode()).hexdigest())[:length]


def chain_name(network: str, container_id: str) -> str:
    return _hash(28, "CNI-", network + container_id)


def _go_q(s: str) -> str:
    from pycni.spec.version import go_quote

    return go_quote(s)


def iptables_comment(network: str, container_id: str) -> str:
    return f"name: {_go_q(network)} id: {_go_q(container_id)}"


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


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise IPMasqError(f"running {argv!r}: exit status {proc.returncode}: {proc.stderr.strip()}")
    return proc


def supports_iptables() -> bool:
    if shutil.which("iptables") is None:
        return False
    return _run(["iptables", "--wait", "-t", "filter", "-S", "INPUT", "1"], check=False).returncode == 0


def supports_nftables() -> bool:
    return shutil.which("nft") is not None and _run(["nft", "list", "tables"], check=False).returncode == 0


# --- iptables ----------------------------------------------------------------------------------


def _ipt(v6: bool) -> str:
    return "ip6tables" if v6 else "iptables"


def _not_exist(stderr: str) -> bool:
    s = stderr.lower()
    return "does a matching rule exist" in s or "no chain/target/match" in s or "does not exist" in s \
        or "no such file" in s


def _iptables_setup_one(cidr: str, chain: str, comment: str) -> None:
    (fam, v), plen = ipnet.parse_cidr(cidr)
    v6 = fam == 6
    ipt = _ipt(v6)
    multicast = "ff00::/8" if v6 else "224.0.0.0/4"
    chains = _run([ipt, "--wait", "-t", "nat", "-S"]).stdout
    if f"-N {chain}\n" not in chains + "\n":
        _run([ipt, "--wait", "-t", "nat", "-N", chain])
    rules = [
        (chain, ["-d", ipnet.cidr_str((fam, v), plen), "-j", "ACCEPT"]),
        (chain, ["!", "-d", multicast, "-j", "MASQUERADE"]),
        ("POSTROUTING", ["-s", ipnet.ip_str((fam, v)), "-j", chain]),
    ]
    for target, spec in rules:
        full = spec + ["-m", "comment", "--comment", comment]
        if _run([ipt, "--wait", "-t", "nat", "-C", target] + full, check=False).returncode != 0:
            _run([ipt, "--wait", "-t", "nat", "-A", target] + full)


def _iptables_teardown_one(cidr: str, chain: str, comment: str) -> None:
    (fam, v), plen = ipnet.parse_cidr(cidr)
    ipt = _ipt(fam == 6)
    for src in (ipnet.ip_str((fam, v)), ipnet.cidr_str((fam, v), plen)):
        p = _run([ipt, "--wait", "-t", "nat", "-D", "POSTROUTING", "-s", src, "-j", chain,
                  "-m", "comment", "--comment", comment], check=False)
        if p.returncode != 0 and not _not_exist(p.stderr):
            raise IPMasqError(p.stderr.strip())
    for op in ("-F", "-X"):
        p = _run([ipt, "--wait", "-t", "nat", op, chain], check=False)
        if p.returncode != 0 and not _not_exist(p.stderr):
            raise IPMasqError(p.stderr.strip())


# --- nftables ----------------------------------------------------------------------------------


def _nft(script: str) -> None:
    proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise IPMasqError(f"nft: {proc.stderr.strip()}")


def _nft_rules(prefix: str) -> list[tuple[int, str]]:
    """(handle, comment) of rules in the masq chain whose comment starts with prefix."""
    proc = _run(["nft", "-j", "list", "chain", "inet", TABLE, CHAIN], check=False)
    if proc.returncode != 0:
        return []  # no table or chain yet: nothing to find
    from pycni.spec import gojson

    out = []
    for item in gojson.loads(proc.stdout).get("nftables", []):
        rule = item.get("rule") if isinstance(item, dict) else None
        if rule and str(rule.get("comment", "")).startswith(prefix):
            out.append((rule["handle"], rule["comment"]))
    return out


def _nft_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _nft_setup(cidrs: list[str], network: str, ifname: str, container_id: str) -> None:
    stale = _nft_rules(instance_hash(network, ifname, container_id))
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
    if backend is None:
        backend = "nftables" if not supports_iptables() and supports_nftables() else "iptables"
    if backend == "iptables":
        chain, comment = chain_name(network, container_id), iptables_comment(network, container_id)
        for cidr in cidrs:
            _iptables_setup_one(cidr, chain, comment)
    elif backend == "nftables":
        _nft_setup(cidrs, network, ifname, container_id)
    else:
        raise IPMasqError(f'unknown ipmasq backend "{backend}"')


def teardown(cidrs: list[str], network: str, ifname: str, container_id: str) -> None:
    """Both backends are always tried, as upstream: the config may have changed since ADD."""
    errs = []
    if shutil.which("iptables"):
        chain, comment = chain_name(network, container_id), iptables_comment(network, container_id)
        for cidr in cidrs:
            try:
                _iptables_teardown_one(cidr, chain, comment)
            except IPMasqError as exc:
                errs.append(str(exc))
    if shutil.which("nft"):
        try:
            _nft_delete(h for h, _ in _nft_rules(instance_hash(network, ifname, container_id)))
        except IPMasqError as exc:
            errs.append(str(exc))
    if errs:
        raise IPMasqError("\n".join(errs))


def gc(network: str, valid: list[tuple[str, str]]) -> None:
    """Delete this network's nftables masquerade rules whose attachment is no longer valid."""
    if not shutil.which("nft"):
        return
    keep = {nft_comment(network, ifname, cid) for cid, ifname in valid}
    _nft_delete(h for h, c in _nft_rules(network_hash(network)) if c not in keep)
