"""firewall's iptables backend (filter table) and the bridge ingress policies, as upstream.

FORWARD (position 1):  -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
CNI-FORWARD (pos. 1):  -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
CNI-FORWARD, per IP:   -d IP/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT ; -s IP/32 -j ACCEPT
Ingress policies (same-bridge, isolated): chains CNI-ISOLATION-STAGE-1/2, jumped from FORWARD position 1.
DEL removes the per-IP rules only; chains, jumps and isolation rules stay (other containers use them).
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.linux.netfilter import IPTables, IPTablesError, NetfilterError, go_list

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
    return ip + ("/128" if ":" in ip else "/32")


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
        if (":" in ipc["address"]) == v6:
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

    def _setup_chains(self, ipt: IPTables) -> None:
        ipt.ensure_chain(FILTER, self.priv)
        ipt.ensure_chain(FILTER, self.admin)
        ipt.insert_unique(FILTER, FORWARD, True, filter_rule(self.priv))
        ipt.insert_unique(FILTER, self.priv, True, admin_rule(self.admin))

    def add(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        for ipt in self.ipts:
            rules = rules_for(result, ipt.v6)
            if not rules:
                continue
            self._setup_chains(ipt)
            try:
                for rule in rules:
                    ipt.append_unique(FILTER, self.priv, rule)
            except NetfilterError:
                self._cleanup(ipt, rules)
                raise

    def _cleanup(self, ipt: IPTables, rules: list[list[str]]) -> None:
        for rule in rules:
            try:
                ipt.delete(FILTER, self.priv, rule)
            except IPTablesError:
                pass

    def delete(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        """Runtime errors are ignored, as upstream."""
        for ipt in self.ipts:
            rules = rules_for(result, ipt.v6)
            if rules:
                self._cleanup(ipt, rules)

    def check(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        """Upstream's checks and messages, without its side effect of creating missing chains."""
        for ipt in self.ipts:
            rules = rules_for(result, ipt.v6)
            if not rules:
                continue
            priv_ok = ipt.chain_exists(FILTER, self.priv)
            admin_ok = ipt.chain_exists(FILTER, self.admin)
            fr = filter_rule(self.priv)
            if not priv_ok or not ipt.exists(FILTER, FORWARD, fr):
                raise NetfilterError(f"expected {FORWARD} rule {go_list(fr)} not found")
            ar = admin_rule(self.admin)
            if not admin_ok or not ipt.exists(FILTER, self.priv, ar):
                raise NetfilterError(f"expected {self.priv} rule {go_list(ar)} not found")
            for rule in rules:
                if not ipt.exists(FILTER, self.priv, rule):
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


def setup_isolation(ipt: IPTables, bridge: str, isolated: bool) -> None:
    for chain in (STAGE1, STAGE2):
        ipt.ensure_chain(FILTER, chain)
    for chain, prepend, rule in isolation_steps(bridge, isolated):
        ipt.insert_unique(FILTER, chain, prepend, rule)


def setup_ingress_policy(policy: str, bridge: str | None, result: dict[str, Any]) -> None:
    """Always iptables, whatever the backend; once per family present in prevResult."""
    if bridge is None:
        return
    fams = []
    for ipc in result.get("ips") or []:
        v6 = ":" in ipc["address"]
        if v6 not in fams:
            fams.append(v6)
    for v6 in fams:
        setup_isolation(IPTables(v6), bridge, policy == ISOLATED)
