"""cluster-ipam's transactions: ADD, DEL, GC and STATUS against etcd, on the key layout of keys.py.

Correctness comes only from the txn compares (an address key is created only if absent, in the
same txn as the attachment's handle); block affinity only keeps nodes out of each other's way.
No CNI parsing and no result formatting here (plugin.py), no block arithmetic (blocks.py).
"""

from __future__ import annotations

import time

from pycni.spec import gojson, ipnet
from pycni.spec.errors import INTERNAL, TRY_AGAIN_LATER, CNIError

from . import blocks as B
from .etcd import (
    KV,
    cmp_absent,
    cmp_create,
    cmp_exists,
    cmp_mod,
    count,
    kvs,
    op_delete,
    op_put,
    op_range,
    prefix_end,
)
from .keys import Keys, last_part

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .config import Config
    from .etcd import Client

MAX_TRIES = 12
PROBES = 4
RUN = 16  # block keys read per probe
PAGE = 512
TXN_OPS = 120  # etcd's default --max-txn-ops is 128


class View:
    """What one ADD knows about one range: the node's blocks and the hint block's addresses."""

    __slots__ = ("hint", "hint_owner", "hint_taken", "own", "pid", "r")

    def __init__(self, r: B.Range, pid: str) -> None:
        self.r = r
        self.pid = pid
        self.own: set[int] = set()
        self.hint: int | None = None
        self.hint_owner = ""
        self.hint_taken: list[int] | None = None


class Pick:
    __slots__ = ("block", "ip", "own", "r")

    def __init__(self, r: B.Range, ip: int, block: int, own: bool) -> None:
        self.r, self.ip, self.block, self.own = r, ip, block, own


def set_text(rs: list[B.Range]) -> str:
    return f"{ipnet.ip_str((rs[0].family, rs[0].start))}-{ipnet.ip_str((rs[-1].family, rs[-1].end))}"


class Engine:
    def __init__(self, cfg: Config, client: Client) -> None:
        self.cfg = cfg
        self.c = client
        self.k = Keys(cfg.prefix, cfg.network)
        self.node = cfg.node
        self.stats = {"claims": 0, "borrows": 0, "reclaims": 0, "conflicts": 0}

    # -- reading ----------------------------------------------------------------------------------
    def _views(self, hints: dict[str, str], serial: bool, extra: list[dict[str, Any]]) -> tuple[list[Any], list[View]]:
        """One read txn: `extra` ops first (their replies returned), then per range the node's
        block index and, for a hinted block, its claim and its address keys."""
        ops = list(extra)
        views: list[View] = []
        plan: list[tuple[View, bool]] = []
        for rs in self.cfg.sets:
            for r in rs:
                v = View(r, self.k.pool(r))
                views.append(v)
                np = self.k.node_prefix(r, self.node)
                ops.append(op_range(np, prefix_end(np), keys_only=True, serializable=serial))
                h = hints.get(v.pid)
                if h:
                    try:
                        i = r.block_from_hex(h)
                    except ValueError:
                        i = -1
                    if r.first_block <= i <= r.last_block:
                        v.hint = i
                ops_hint = v.hint is not None
                if ops_hint:
                    assert v.hint is not None
                    ops.append(op_range(self.k.block(r, v.hint), serializable=serial))
                    a, b = self.k.span(r, v.hint)
                    ops.append(op_range(a, b, keys_only=True, serializable=serial))
                plan.append((v, ops_hint))
        _, res = self.c.txn([], ops)
        out = res[: len(extra)]
        j = len(extra)
        for v, has_hint in plan:
            v.own = {v.r.block_from_hex(last_part(kv.key)) for kv in kvs(res[j])}
            j += 1
            if has_hint:
                blk = kvs(res[j])
                v.hint_owner = _record(blk[0].value).get("node", "") if blk else ""
                v.hint_taken = self._ordinals(v.r, v.hint or 0, kvs(res[j + 1]))
                j += 2
        return out, views

    def _ordinals(self, r: B.Range, i: int, items: list[KV]) -> list[int]:
        base = r.block_base(i)
        return [int(last_part(kv.key), 16) - base for kv in items]

    def _read_span(self, r: B.Range, i: int) -> list[int]:
        a, b = self.k.span(r, i)
        _, res = self.c.txn([], [op_range(a, b, keys_only=True)])
        return self._ordinals(r, i, kvs(res[0]))

    def _counts(self, r: B.Range, idx: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for at in range(0, len(idx), TXN_OPS):
            part = idx[at: at + TXN_OPS]
            ops = [op_range(*self.k.span(r, i), count_only=True) for i in part]
            _, res = self.c.txn([], ops)
            for i, rr in zip(part, res):
                out[i] = count(rr)
        return out

    # -- choosing an address ----------------------------------------------------------------------
    def pick(self, v: View, dry: bool = False) -> Pick | bool | None:
        """An address for range v (dry: only whether there is one). Own blocks first, then a new
        claim, then (pool fully carved) an empty block reclaimed, then a borrowed address."""
        r = v.r
        strict = self.cfg.strict_affinity
        if v.hint is not None and v.hint_taken is not None:
            usable_ok = v.hint in v.own or (v.hint_owner not in ("", self.node) and not strict)
            if usable_ok:
                o = B.choose_ordinal(r.usable(v.hint), v.hint_taken)
                if o is not None:
                    if dry:
                        return True
                    if v.hint not in v.own:
                        self.stats["borrows"] += 1
                    return Pick(r, r.block_base(v.hint) + o, v.hint, v.hint in v.own)
        others = sorted(i for i in v.own if i != v.hint and r.first_block <= i <= r.last_block)
        if others:
            counts = self._counts(r, others)
            room = sorted(((len(r.usable(i)) - counts[i], i) for i in others), key=lambda t: (-t[0], t[1]))
            for free, i in room:
                if free <= 0:
                    break
                if dry:
                    return True
                o = B.choose_ordinal(r.usable(i), self._read_span(r, i))
                if o is not None:
                    return Pick(r, r.block_base(i) + o, i, True)
        got = self._claim_probing(v, dry)
        if got is not None:
            return got
        return self._scavenge(v, dry)

    def _claim(self, r: B.Range, i: int) -> list[int] | None:
        """Claim block i; its taken ordinals on success (or if we already hold it), else None."""
        bk = self.k.block(r, i)
        rec = gojson.dumps({"node": self.node, "t": int(time.time())}, indent=None).encode()
        a, b = self.k.span(r, i)
        ok, res = self.c.txn([cmp_absent(bk)],
                             [op_put(bk, rec), op_put(self.k.node_block(r, self.node, i), b""),
                              op_range(a, b, keys_only=True)],
                             [op_range(bk), op_range(a, b, keys_only=True)])
        if ok:
            self.stats["claims"] += 1
            return self._ordinals(r, i, kvs(res[2]))
        held = kvs(res[0])
        if held and _record(held[0].value).get("node") == self.node:  # our own claim, re-sent after a timeout
            return self._ordinals(r, i, kvs(res[1]))
        return None

    def _claim_probing(self, v: View, dry: bool) -> Pick | bool | None:
        r = v.r
        ps = B.probes(f"{self.node}/{v.pid}", r.first_block, r.nblocks, PROBES)
        end = self.k.blocks_end(r)
        _, res = self.c.txn([], [op_range(self.k.block(r, p), end, keys_only=True, limit=RUN) for p in ps])
        tried: set[int] = set()
        for p, rr in zip(ps, res):
            run = sorted(r.block_from_hex(last_part(kv.key)) for kv in kvs(rr))
            i = B.free_in_run(p, run, RUN, r.last_block)
            if i is None or i in tried:
                continue
            tried.add(i)
            us = r.usable(i)
            if not us:
                continue
            if dry:
                return True
            taken = self._claim(r, i)
            if taken is None:
                continue
            o = B.choose_ordinal(us, taken)
            if o is not None:
                return Pick(r, r.block_base(i) + o, i, True)
        return None

    def _scavenge(self, v: View, dry: bool) -> Pick | bool | None:
        """The pool looked fully carved: read every block claim of the range (only here, once the
        probes found no free block) and claim a gap, reclaim an empty block or borrow."""
        r = v.r
        claimed: dict[int, KV] = {}
        key, end = self.k.block(r, r.first_block), self.k.blocks_end(r)
        while True:
            _, res = self.c.txn([], [op_range(key, end, limit=PAGE)])
            page = kvs(res[0])
            for kv in page:
                claimed[r.block_from_hex(last_part(kv.key))] = kv
            if len(page) < PAGE:
                break
            key = page[-1].key + b"\x00"
        gap = B.free_in_run(r.first_block, sorted(claimed), len(claimed) + 1, r.last_block)
        while gap is not None:
            us = r.usable(gap)
            if us:
                if dry:
                    return True
                taken = self._claim(r, gap)
                if taken is not None:
                    o = B.choose_ordinal(us, taken)
                    if o is not None:
                        return Pick(r, r.block_base(gap) + o, gap, True)
            later = sorted(i for i in claimed if i > gap)
            gap = B.free_in_run(gap + 1, later, len(later) + 1, r.last_block)
        idx = sorted(claimed)
        counts = self._counts(r, idx)
        now = time.time()
        for i in idx:  # reclaim another node's empty block, old enough not to be a fresh claim
            rec = _record(claimed[i].value)
            owner = rec.get("node", "")
            if counts[i] or owner == self.node or now - _num(rec.get("t")) < self.cfg.reclaim_age:
                continue
            if dry:
                return True
            if self._reclaim(r, i, claimed[i], owner):
                o = B.choose_ordinal(r.usable(i), [])
                if o is not None:
                    return Pick(r, r.block_base(i) + o, i, True)
        for i in idx:  # own blocks refilled by DELs meanwhile, then (unless strict) borrow
            owner = _record(claimed[i].value).get("node", "")
            if owner != self.node and self.cfg.strict_affinity:
                continue
            us = r.usable(i)
            if counts[i] >= len(us):
                continue
            if dry:
                return True
            o = B.choose_ordinal(us, self._read_span(r, i))
            if o is not None:
                if owner != self.node:
                    self.stats["borrows"] += 1
                return Pick(r, r.block_base(i) + o, i, owner == self.node)
        return False if dry else None

    def _reclaim(self, r: B.Range, i: int, blk: KV, owner: str) -> bool:
        bk = self.k.block(r, i)
        a, b = self.k.span(r, i)
        rec = gojson.dumps({"node": self.node, "t": int(time.time())}, indent=None).encode()
        ok, _ = self.c.txn([cmp_absent(a, b), cmp_mod(bk, blk.mod)],
                           [op_delete(self.k.node_block(r, owner, i)), op_put(bk, rec),
                            op_put(self.k.node_block(r, self.node, i), b"")])
        if ok:
            self.stats["reclaims"] += 1
        return ok

    # -- ADD --------------------------------------------------------------------------------------
    def add(self, cid: str, ifname: str, meta: dict[str, str], hints: dict[str, str]) -> list[dict[str, str]]:
        """Allocate one address per range set, all in one txn with the handle; returns the handle's
        entries [{"ref","address","gateway"?}]. An existing handle is returned as it is."""
        hk = self.k.handle(cid, ifname)
        for attempt in range(MAX_TRIES):
            serial = attempt < 2  # a stale local read only costs a failed compare
            (handle,), views = self._views(hints, serial, [op_range(hk, serializable=serial)])
            found = kvs(handle)
            if found:
                return entries_of(found[0].value)
            picks: list[Pick] = []
            at = 0
            for rs in self.cfg.sets:
                got: Pick | None = None
                for v in views[at: at + len(rs)]:
                    p = self.pick(v)
                    if isinstance(p, Pick):
                        got = p
                        break
                at += len(rs)
                if got is None:
                    raise CNIError(INTERNAL, f"no IP addresses available in range set: {set_text(rs)}")
                picks.append(got)
            entries = []
            for p in picks:
                e = {"ref": self.k.ip_ref(p.r.family, p.ip),
                     "address": ipnet.cidr_str((p.r.family, p.ip), p.r.plen)}
                if p.r.gateway is not None:
                    e["gateway"] = ipnet.ip_str((p.r.family, p.r.gateway))
                entries.append(e)
            ip_rec = gojson.dumps({"cid": cid, "ifname": ifname, "node": self.node}, indent=None).encode()
            h_rec = dict(meta)
            h_rec.update({"cid": cid, "ifname": ifname, "node": self.node, "t": str(int(time.time()))})
            h_val = gojson.dumps({"ips": entries, **h_rec}, indent=None).encode()
            compare = [cmp_absent(hk)] + [cmp_absent(self.k.ip_key(e["ref"])) for e in entries]
            compare += [cmp_exists(self.k.node_block(p.r, self.node, p.block)) for p in picks if p.own]
            success = [op_put(self.k.ip_key(e["ref"]), ip_rec) for e in entries]
            success += [op_put(hk, h_val), op_put(self.k.bynode(self.node, cid, ifname), b"")]
            ok, res = self.c.txn(compare, success, [op_range(hk)])
            if ok:
                for p in picks:
                    hints[self.k.pool(p.r)] = p.r.block_hex(p.block)
                return entries
            found = kvs(res[0])
            if found:  # a re-sent txn that had committed, or a concurrent ADD of the same attachment
                return entries_of(found[0].value)
            self.stats["conflicts"] += 1
            for p in picks:  # re-read that block next time
                hints[self.k.pool(p.r)] = p.r.block_hex(p.block)
        raise CNIError(TRY_AGAIN_LATER, "cluster-ipam: too many allocation conflicts, try again")

    # -- DEL --------------------------------------------------------------------------------------
    def read_handle(self, cid: str, ifname: str) -> KV | None:
        _, res = self.c.txn([], [op_range(self.k.handle(cid, ifname))])
        found = kvs(res[0])
        return found[0] if found else None

    def release(self, cid: str, ifname: str) -> bool:
        """Delete an attachment and its addresses in one txn; False if there was none."""
        hk = self.k.handle(cid, ifname)
        h = self.read_handle(cid, ifname)
        for _ in range(MAX_TRIES):
            if h is None:
                return False
            rec = _record(h.value)
            refs = [e.get("ref", "") for e in rec.get("ips") or [] if isinstance(e, dict)]
            ipks = [self.k.ip_key(ref) for ref in refs if ref]
            node = str(rec.get("node") or self.node)
            # An address key is deleted only if it was created with the handle (same txn), so an
            # address since re-used by someone else is never freed by a stale DEL.
            compare = [cmp_mod(hk, h.mod)] + [cmp_create(k, h.create) for k in ipks]
            success = [op_delete(hk), op_delete(self.k.bynode(node, cid, ifname))] + [op_delete(k) for k in ipks]
            failure = [op_range(hk)] + [op_range(k, keys_only=True) for k in ipks]
            ok, res = self.c.txn(compare, success, failure)
            if ok:
                return True
            cur = kvs(res[0])
            if not cur:
                return True  # deleted meanwhile (a re-sent txn that had committed, or a racing DEL)
            h = cur[0]
            if h.create == _created(res, ipks, h.create):
                continue
            # Some address key is gone or not ours: delete the handle with only the ones still ours.
            keep = [k for k, rr in zip(ipks, res[1:]) if any(kv.create == h.create for kv in kvs(rr))]
            rec["ips"] = [e for e in rec.get("ips") or [] if self.k.ip_key(e.get("ref", "")) in keep]
            h = KV(h.key, gojson.dumps(rec, indent=None).encode(), h.create, h.mod)
        raise CNIError(TRY_AGAIN_LATER, "cluster-ipam: too many conflicts releasing the attachment, try again")

    # -- GC ---------------------------------------------------------------------------------------
    def attachments(self, node: str | None = None) -> list[tuple[str, str, str]]:
        """(node, containerID, ifname) of every attachment of `node` (every node when None)."""
        pre = self.k.bynode_prefix(node or "")
        out = []
        key, end = pre, prefix_end(pre)
        while True:
            _, res = self.c.txn([], [op_range(key, end, keys_only=True, limit=PAGE)])
            page = kvs(res[0])
            for kv in page:
                parts = kv.key[len(self.k.bynode_prefix()):].decode().split("/")
                if len(parts) == 3:
                    out.append((parts[0], parts[1], parts[2]))
            if len(page) < PAGE:
                return out
            key = page[-1].key + b"\x00"

    def gc(self, valid: set[tuple[str, str]]) -> list[str]:
        """Release this node's attachments not in `valid`, then its empty blocks; returns errors."""
        errors = []
        for _, cid, ifname in self.attachments(self.node):
            if (cid, ifname) in valid:
                continue
            try:
                self.release(cid, ifname)
            except CNIError as exc:
                errors.append(f"{cid}/{ifname}: {exc}")
        try:
            self.release_empty_blocks(self.node)
        except CNIError as exc:
            errors.append(f"empty blocks: {exc}")
        return errors

    def release_empty_blocks(self, node: str, min_age: float | None = None) -> int:
        """Give up `node`'s blocks that hold no address and were claimed at least min_age ago."""
        age = self.cfg.reclaim_age if min_age is None else min_age
        n = 0
        now = time.time()
        for rs in self.cfg.sets:
            for r in rs:
                np = self.k.node_prefix(r, node)
                _, res = self.c.txn([], [op_range(np, prefix_end(np), keys_only=True)])
                own = sorted(r.block_from_hex(last_part(kv.key)) for kv in kvs(res[0]))
                if not own:
                    continue
                counts = self._counts(r, own)
                for i in own:
                    if counts[i]:
                        continue
                    bk = self.k.block(r, i)
                    _, res = self.c.txn([], [op_range(bk)])
                    blk = kvs(res[0])
                    if blk and now - _num(_record(blk[0].value).get("t")) < age:
                        continue
                    a, b = self.k.span(r, i)
                    compare = [cmp_absent(a, b)] + ([cmp_mod(bk, blk[0].mod)] if blk else [])
                    ok, _ = self.c.txn(compare, [op_delete(bk), op_delete(self.k.node_block(r, node, i))])
                    n += ok
        return n

    # -- STATUS -----------------------------------------------------------------------------------
    def exhausted_sets(self) -> list[str]:
        """The range sets in which this node could not get an address now (linearizable reads)."""
        _, views = self._views({}, False, [])
        out = []
        at = 0
        for rs in self.cfg.sets:
            if not any(self.pick(v, dry=True) for v in views[at: at + len(rs)]):
                out.append(set_text(rs))
            at += len(rs)
        return out


def _created(res: list[Any], ipks: list[bytes], create: int) -> int:
    """`create` if every address key in the failure replies was created with the handle, else -1."""
    for rr in res[1: 1 + len(ipks)]:
        found = kvs(rr)
        if not found or found[0].create != create:
            return -1
    return create


def _record(value: bytes) -> dict[str, Any]:
    try:
        v = gojson.loads(value) if value else {}
    except gojson.JSONSyntaxError:
        return {}
    return v if isinstance(v, dict) else {}


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def entries_of(value: bytes) -> list[dict[str, str]]:
    rec = _record(value)
    return [e for e in rec.get("ips") or [] if isinstance(e, dict)]
