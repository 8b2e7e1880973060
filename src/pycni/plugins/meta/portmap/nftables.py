"""portmap's nftables backend: tables `ip cni_hostport` and `ip6 cni_hostport`, as upstream (knftables).

Chains: `hostports` (one DNAT rule per mapping), `hostip_hostports` (kept empty, for upgrades),
`hostports_all` (jumps to both), base chains `prerouting`/`output` (nat, dstnat priority: local
destinations go to hostports_all) and `masquerading` (nat, srcnat priority) when snat is on.
Every per-container rule carries the container ID as its comment: that is how DEL and CHECK find them.
"""

from __future__ import annotations

from pycni.linux import netfilter
from pycni.linux.netfilter import (
    NetfilterError,
    NftError,
    nft_list_rules,
    nft_list_table_rules,
    nft_path,
    nft_run,
    nft_str,
)
from pycni.plugins.meta.portmap.config import host_ip_family_ok
from pycni.spec.ipnet import family_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TABLE = "cni_hostport"
HOSTPORTS_ALL = "hostports_all"
HOSTIP_HOSTPORTS = "hostip_hostports"  # legacy, kept empty
HOSTPORTS = "hostports"
MASQUERADING = "masquerading"
DSTNAT_PRIORITY = -100
SRCNAT_PRIORITY = 100


def forward_script(conf: dict[str, Any], cont_net: str) -> str:
    """The transaction knftables would send for one container IP."""
    v6 = family_of(cont_net) == 6
    fam = "ip6" if v6 else "ip"
    cont_ip = cont_net.split("/")[0]
    conditions = conf.get("conditionsV6" if v6 else "conditionsV4") or []
    cid = nft_str(conf["containerID"])
    t = f"{fam} {TABLE}"
    lines = [
        f'add table {t} {{ comment {nft_str("CNI portmap plugin")} ; }}',
        f"add chain {t} {HOSTPORTS}",
        f"add chain {t} {HOSTIP_HOSTPORTS}",
        f"add chain {t} {HOSTPORTS_ALL}",
        f"flush chain {t} {HOSTPORTS_ALL}",
        f"add rule {t} {HOSTPORTS_ALL} jump {HOSTIP_HOSTPORTS}",
        f"add rule {t} {HOSTPORTS_ALL} jump {HOSTPORTS}",
    ]
    for chain, hook in (("prerouting", "prerouting"), ("output", "output")):
        lines += [
            f"add chain {t} {chain} {{ type nat hook {hook} priority {DSTNAT_PRIORITY} ; }}",
            f"flush chain {t} {chain}",
            f"add rule {t} {chain} " + " ".join([*conditions, "fib daddr type local", "jump", HOSTPORTS_ALL]),
        ]
    if conf["snat"]:
        lines.append(f"add chain {t} {MASQUERADING} {{ type nat hook postrouting priority {SRCNAT_PRIORITY} ; }}")
    dest = f"[{cont_ip}]" if v6 else cont_ip
    for e in conf["portMappings"]:
        use, with_dst = host_ip_family_ok(e["hostIP"], v6)
        if not use:
            continue
        match = f"{fam} daddr {e['hostIP']} " if with_dst else ""
        lines.append(f"add rule {t} {HOSTPORTS} {match}{e['protocol']} dport {e['hostPort']} "
                     f"dnat to {dest}:{e['containerPort']} comment {cid}")
    if conf["snat"]:
        src = ("::/0" if v6 else "0.0.0.0/0") if conf.get("masqAll") else cont_ip
        lines.append(f"add rule {t} {MASQUERADING} {fam} saddr {src} {fam} daddr {cont_ip} masquerade comment {cid}")
        if not v6 and not conf.get("masqAll"):
            lines.append(f"add rule {t} {MASQUERADING} {fam} saddr 127.0.0.1 {fam} daddr {cont_ip} masquerade "
                         f"comment {cid}")
    return "\n".join(lines) + "\n"


def forward_ports(conf: dict[str, Any], cont_net: str) -> None:
    try:
        nft_run(forward_script(conf, cont_net))
    except NftError as exc:
        raise NetfilterError(f"unable to set up nftables rules for port mappings: {exc}") from None


def _expected_counts(conf: dict[str, Any], v6: bool) -> tuple[int, int]:
    host_ports = sum(1 for e in conf["portMappings"] if host_ip_family_ok(e["hostIP"], v6)[0])
    masq = 0
    if conf["snat"]:
        masq = 2 if not v6 and not conf.get("masqAll") else 1
    return host_ports, masq


def check_ports(conf: dict[str, Any], cont_net: str) -> None:
    """Enough rules tagged with the container ID in `hostports` and (with snat) `masquerading`."""
    v6 = family_of(cont_net) == 6
    fam = "ip6" if v6 else "ip"
    host_ports, masq = _expected_counts(conf, v6)
    for chain, want in ((HOSTPORTS, host_ports), (MASQUERADING, masq)):
        if want <= 0:
            continue
        found = sum(1 for _h, c in nft_list_rules(fam, TABLE, chain) if c == conf["containerID"])
        if found < want:
            raise NetfilterError(f'missing hostport rules in "{chain}" chain')


def unforward_ports(conf: dict[str, Any]) -> None:
    """Delete the container's rules in both families (one listing per family, one deletion for both);
    absent tables or chains are fine."""
    try:
        nft_path()
    except NftError:
        return  # upstream skips a family whose knftables handle cannot be made
    lines = []
    for fam in ("ip", "ip6"):
        if netfilter.nft_table_exists(fam, TABLE) is False:
            continue  # asked the kernel directly: no nft run for a family that never had the table
        try:
            rules = nft_list_table_rules(fam, TABLE)
        except NftError as exc:
            if exc.not_found:
                continue
            raise NetfilterError(f"could not list rules in table {TABLE}: {exc}") from None
        lines += [f"delete rule {fam} {TABLE} {chain} handle {h}" for chain in (HOSTPORTS, HOSTIP_HOSTPORTS, MASQUERADING)
                  for ch, h, c in rules if ch == chain and c == conf["containerID"]]
    if lines:
        try:
            nft_run("\n".join(lines) + "\n")
        except NftError as exc:
            raise NetfilterError(f"error deleting nftables rules: {exc}") from None
