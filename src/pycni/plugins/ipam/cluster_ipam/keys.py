"""cluster-ipam's etcd key layout (pure strings -> bytes). N = <prefix>/<network>:

  N/ips/<4|6>/<hex ip>                   one key per allocated address (network-wide: ranges may overlap)
  N/handles/<containerID>/<ifname>       the attachment: its addresses; created in the same txn as them
  N/bynode/<node>/<containerID>/<ifname> "" (lets GC list one node's attachments)
  P = N/pools/<hex net>-<plen>-b<block len>
  P/blocks/<hex block base>              {"node","t"}: the block's affine node
  P/nodes/<node>/<hex block base>        "" (a node's blocks, written in the claim txn)
"""

from __future__ import annotations

from .blocks import Range, ip_hex
from .etcd import prefix_end


class Keys:
    __slots__ = ("n",)

    def __init__(self, prefix: str, network: str) -> None:
        self.n = f"{prefix}/{network}"

    def handle(self, cid: str, ifname: str) -> bytes:
        return f"{self.n}/handles/{cid}/{ifname}".encode()

    def handles_prefix(self) -> bytes:
        return f"{self.n}/handles/".encode()

    def bynode(self, node: str, cid: str, ifname: str) -> bytes:
        return f"{self.n}/bynode/{node}/{cid}/{ifname}".encode()

    def bynode_prefix(self, node: str = "") -> bytes:
        return f"{self.n}/bynode/{node}/".encode() if node else f"{self.n}/bynode/".encode()

    def ip_ref(self, family: int, ip: int) -> str:
        """The short form stored in a handle: "4/0a000005"."""
        return f"{family}/{ip_hex(family, ip)}"

    def ip_key(self, ref: str) -> bytes:
        return f"{self.n}/ips/{ref}".encode()

    def ips_prefix(self) -> bytes:
        return f"{self.n}/ips/".encode()

    def span(self, r: Range, i: int) -> tuple[bytes, bytes]:
        """[first, end) of the address keys of block i."""
        base = r.block_base(i)
        fam_prefix = f"{self.n}/ips/{r.family}/"
        start = (fam_prefix + ip_hex(r.family, base)).encode()
        nxt = base + r.bsize
        if nxt >> r.width:
            return start, prefix_end(fam_prefix.encode())
        return start, (fam_prefix + ip_hex(r.family, nxt)).encode()

    def pool(self, r: Range) -> str:
        return f"{self.n}/pools/{ip_hex(r.family, r.net)}-{r.plen}-b{r.block_len}"

    def block(self, r: Range, i: int) -> bytes:
        return f"{self.pool(r)}/blocks/{r.block_hex(i)}".encode()

    def blocks_prefix(self, r: Range) -> bytes:
        return f"{self.pool(r)}/blocks/".encode()

    def blocks_end(self, r: Range) -> bytes:
        """The end of the block keys of r's [first_block, last_block]."""
        nxt = r.last_block + 1
        if r.block_base(nxt) >> r.width:
            return prefix_end(self.blocks_prefix(r))
        return self.block(r, nxt)

    def node_block(self, r: Range, node: str, i: int) -> bytes:
        return f"{self.pool(r)}/nodes/{node}/{r.block_hex(i)}".encode()

    def node_prefix(self, r: Range, node: str) -> bytes:
        return f"{self.pool(r)}/nodes/{node}/".encode()


def last_part(key: bytes) -> str:
    return key.rsplit(b"/", 1)[-1].decode()
