"""`firewall`, the implementation: allow the container's traffic through the host firewall (chained;
upstream HEAD).

Config: backend (`iptables` | `firewalld`; otherwise firewalld when it owns its bus name, else
iptables), iptablesAdminChainName (default CNI-ADMIN), firewalldZone (default trusted),
ingressPolicy (`open` default, `same-bridge`, `isolated`; always applied with iptables). ADD and
CHECK need prevResult; DEL works without it (then there is nothing to remove). CNI 0.4.0 and later.

Deliberate differences from upstream (each where upstream leaves state behind or misreports):
* ADD validates ingressPolicy and the bridge it needs (prevResult's first interface) before any rule is
  added; upstream adds the per-IP rules first and leaves them behind when the policy is unknown or the
  bridge is missing. If setting up the policy then fails, the per-IP rules just added are removed.
* CHECK (iptables) does not create missing chains (upstream's CHECK creates CNI-FORWARD/admin chains
  as a side effect); it reports the same "expected ... not found" errors.
* CHECK (firewalld) fails when querySource answers false (upstream ignores the answer).
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.plugins.shared.prev_result import usable_prev_result
from pycni.skel import CmdArgs

from . import firewalld
from .config import parse_conf
from .iptables import ISOLATED, OPEN, SAME_BRIDGE, IptablesBackend, policy_bridge, setup_ingress_policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def get_backend(conf: dict[str, Any]) -> Any:
    backend = conf.get("backend", "")
    if backend == "iptables":
        return IptablesBackend(conf)
    if backend == "firewalld":
        try:
            return firewalld.FirewalldBackend(firewalld.Conn.system_bus())
        except firewalld.DBusConnError as exc:
            raise ValueError(str(exc)) from None
    try:
        conn = firewalld.Conn.system_bus()
    except (firewalld.DBusConnError, firewalld.DBusError):
        conn = None
    if firewalld.is_firewalld_running(conn):
        return firewalld.FirewalldBackend(conn)  # type: ignore[arg-type]
    if conn is not None:
        conn.close()
    return IptablesBackend(conf)


def cmd_add(args: CmdArgs) -> Any:
    conf, result = parse_conf(args.conf)
    if conf.get("prevResult") is None:
        raise ValueError("missing prevResult from earlier plugin")
    policy = conf.get("ingressPolicy", "")
    bridge = policy_bridge(policy, result)
    backend = get_backend(conf)
    try:
        if hasattr(backend, "add_with_policy"):  # iptables: per-IP rules and policy in one transaction
            backend.add_with_policy(conf, result, bridge, policy == ISOLATED)
        else:
            backend.add(conf, result)
            try:
                setup_ingress_policy(policy, bridge, result)
            except BaseException:
                backend.delete(conf, result)
                raise
    finally:
        backend.close()
    return result


def cmd_del(args: CmdArgs) -> None:
    # the IPs' rules go when prevResult loads; one it cannot read (which ADD refused) leaves nothing to remove
    conf, result = parse_conf(usable_prev_result(args.conf))
    backend = get_backend(conf)
    try:
        backend.delete(conf, result)
    finally:
        backend.close()
    policy = conf.get("ingressPolicy", "")
    if policy not in ("", OPEN, SAME_BRIDGE, ISOLATED):
        # As upstream: the per-container rules are gone, the isolation rules are shared and stay.
        raise ValueError(f"unknown ingress policy: {q(policy)}")


def cmd_check(args: CmdArgs) -> None:
    conf, result = parse_conf(args.conf)
    if conf.get("prevResult") is None:
        raise ValueError("missing prevResult from earlier plugin")
    backend = get_backend(conf)
    try:
        backend.check(conf, result)
    finally:
        backend.close()


# Upstream's firewall registers no GC/STATUS handler (skel answers both with success): nothing to forward.
cmd_gc = cmd_status = None
