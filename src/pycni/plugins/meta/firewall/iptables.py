"""firewall's iptables backend (filter table) and the bridge ingress policies, as upstream.

FORWARD (position 1):  -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
CNI-FORWARD (pos. 1):  -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
CNI-FORWARD, per IP:   -d IP/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT ; -s IP/32 -j ACCEPT
Ingress policies (same-bridge, isolated): chains CNI-ISOLATION-STAGE-1/2, jumped from FORWARD position 1.
DEL removes the per-IP rules only; chains, jumps and isolation rules stay (other containers use them).
ADD reads the filter table once per family and applies the chains, per-IP rules and (with
add_with_policy) the ingress policy in one iptables-restore; DEL likewise.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.linux.netfilter import IPTables, NetfilterError, Txn, go_list
from pycni.spec.ipnet import family_of, host_cidr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FILTER = "filter"
FORWARD = "FORWARD"
PRIV_CHAIN = "CNI-FORWARD"
DEFAULT_ADMIN_CHAIN = "CNI-ADMIN"
STAGE1 = "CNI-ISOLATION-STAGE-1"
STAGE2 = "CNI-ISOLATION-STAGE-2"
OPEN, SAME_BRIDGE, ISOLATED = "open", "same-bridge", "isolated"


def ip_string(address: str) -> str:
    ip = address.split("/")[0]
    return host_cidr(ip)


def priv_chain_rules(ip: str) -> list[list[str]]:
    return [["-d", ip, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["-s", ip, "-j", "ACCEPT"]]


def filter_rule(priv: str) -> list[str]:
    return ["-m", "comment", "--comment", "CNI firewall plugin rules", "-j", priv]


def admin_rule(admin: str) -> list[str]:
    return ["-m", "comment", "--comment", "CNI firewall plugin admin overrides", "-j", admin]


def rules_for(result: dict[str, Any], v6: bool) -> list[list[str]]:
    rules: list[list[str]] = []
    for ipc in result.get("ips") or []:
        if (family_of(ipc["address"]) == 6) == v6:
            rules += priv_chain_rules(ip_string(ipc["address"]))
    return rules


class IptablesBackend:
    def __init__(self, conf: dict[str, Any]) -> None:
        self.priv = PRIV_CHAIN
        self.admin = conf.get("iptablesAdminChainName") or DEFAULT_ADMIN_CHAIN
        self.ipts: list[IPTables] = []
        for v6 in (False, True):
            try:
                self.ipts.append(IPTables(v6))
            except NetfilterError as exc:
                raise NetfilterError(f"could not initialize iptables protocol {int(v6)}: {exc}") from None

    def _setup_chains(self, txn: Txn) -> None:
        txn.ensure_chain(self.priv)
        txn.ensure_chain(self.admin)
        txn.insert_unique(FORWARD, True, filter_rule(self.priv))
        txn.insert_unique(self.priv, True, admin_rule(self.admin))

    def add(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        self.add_with_policy(conf, result, None, False)

    def add_with_policy(self, conf: dict[str, Any], result: dict[str, Any], bridge: str | None,
                        isolated: bool) -> None:
        """The per-IP rules and (bridge given) the ingress policy, one transaction per family."""
        for ipt in self.ipts:
            rules = rules_for(result, ipt.v6)
            if not rules:
                continue

            def build(txn: Txn, rules: list[list[str]] = rules) -> None:
                self._setup_chains(txn)
                for rule in rules:
                    txn.append_unique(self.priv, rule)
                if bridge is not None:
                    isolation_txn(txn, bridge, isolated)

            ipt.transact(FILTER, build)

    def delete(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        """Runtime errors are ignored, as upstream."""
        for ipt in self.ipts:
            rules = rules_for(result, ipt.v6)
            if not rules:
                continue

            def build(txn: Txn, rules: list[list[str]] = rules) -> None:
                for rule in rules:
                    txn.delete(self.priv, rule)

            try:
                ipt.transact(FILTER, build)
            except NetfilterError:
                pass

    def check(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        """Upstream's checks and messages, without its side effect of creating missing chains."""
        for ipt in self.ipts:
            rules = rules_for(result, ipt.v6)
            if not rules:
                continue
            snap = ipt.snapshot(FILTER)  # one read; each rule is looked up in it
            fr = filter_rule(self.priv)
            if not snap.has_chain(self.priv) or not ipt.has(snap, FORWARD, fr):
                raise NetfilterError(f"expected {FORWARD} rule {go_list(fr)} not found")
            ar = admin_rule(self.admin)
            if not snap.has_chain(self.admin) or not ipt.has(snap, self.priv, ar):
                raise NetfilterError(f"expected {self.priv} rule {go_list(ar)} not found")
            for rule in rules:
                if not ipt.has(snap, self.priv, rule):
                    raise NetfilterError(f"expected rule {go_list(rule)} not found")

    def close(self) -> None:
        pass


# --- ingress policy ------------------------------------------------------------------------------


def policy_bridge(policy: str, result: dict[str, Any]) -> str | None:
    """Validate the policy (and, for the bridge policies, prevResult's first interface) before anything is
    changed. Returns the bridge name, or None for `open`."""
    if policy in ("", OPEN):
        return None
    if policy not in (SAME_BRIDGE, ISOLATED):
        raise ValueError(f"unknown ingress policy: {q(policy)}")
    ifaces = result.get("interfaces") or []
    if not ifaces:
        raise ValueError(f"interface needs to be set for ingress policy {q(policy)}, "
                         'make sure to chain "firewall" plugin with "bridge"')
    if ifaces[0] is None:
        raise ValueError("got nil interface")
    name = ifaces[0].get("name", "")
    if name == "":
        raise ValueError("got empty bridge name")
    return name


def _with_comment(rule: list[str], comment: str) -> list[str]:
    return rule + ["-m", "comment", "--comment", comment]


def default_comment(rule: list[str]) -> list[str]:
    return _with_comment(rule, "CNI firewall plugin rules (ingressPolicy: same-bridge|isolated)")


def policy_comment(rule: list[str], policy: str) -> list[str]:
    return _with_comment(rule, f"CNI firewall plugin rules (ingressPolicy: {policy})")


def isolation_steps(bridge: str, isolated: bool) -> list[tuple[str, bool, list[str]]]:
    """(chain, prepend, rule) in the order they are ensured."""
    policy = ISOLATED if isolated else SAME_BRIDGE
    steps = [
        (FORWARD, True, default_comment(["-j", STAGE1])),
        (STAGE1, True, policy_comment(["-i", bridge, "!", "-o", bridge, "-j", STAGE2], policy)),
    ]
    if isolated:
        steps.append((STAGE1, True, policy_comment(["-i", bridge, "-o", bridge, "-j", "DROP"], policy)))
    steps += [
        (STAGE1, False, default_comment(["-j", "RETURN"])),
        (STAGE2, True, default_comment(["-o", bridge, "-j", "DROP"])),
        (STAGE2, False, default_comment(["-j", "RETURN"])),
    ]
    return steps


def isolation_txn(txn: Txn, bridge: str, isolated: bool) -> None:
    for chain in (STAGE1, STAGE2):
        txn.ensure_chain(chain)
    for chain, prepend, rule in isolation_steps(bridge, isolated):
        txn.insert_unique(chain, prepend, rule)


def setup_ingress_policy(policy: str, bridge: str | None, result: dict[str, Any]) -> None:
    """Always iptables, whatever the backend; once per family present in prevResult, one transaction each."""
    if bridge is None:
        return
    fams = []
    for ipc in result.get("ips") or []:
        v6 = family_of(ipc["address"]) == 6
        if v6 not in fams:
            fams.append(v6)
    for v6 in fams:
        IPTables(v6).transact(FILTER, lambda txn: isolation_txn(txn, bridge, policy == ISOLATED))
