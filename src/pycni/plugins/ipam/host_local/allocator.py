"""host-local's IPAllocator: one range set, one store, one `last_reserved_ip.<id>`.

The store is anything with reserve / last_reserved_ip / get_by_id / release_by_id (`AllocStore`:
the disk Store, or a fake in tests). Locking is the caller's: the plugin holds the network lock for
the whole command. Messages as upstream's allocator.go.
"""

from __future__ import annotations

from pycni.gofmt import log_printf
from pycni.spec import ipnet

from .range import RangeIter, RangeSet, ip_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from pycni.spec.ipnet import IP
    from pycni.spec.result import IPConfig

    class AllocStore(Protocol):
        """What the allocator needs of a store (upstream's backend.Store, without the lock)."""

        def reserve(self, container_id: str, ifname: str, ip: IP, range_id: str) -> bool: ...

        def last_reserved_ip(self, range_id: str) -> IP | None: ...

        def get_by_id(self, container_id: str, ifname: str) -> list[IP]: ...

        def release_by_id(self, container_id: str, ifname: str) -> None: ...


class AllocationError(ValueError):
    pass


class IPAllocator:
    __slots__ = ("rangeset", "store", "range_id")

    def __init__(self, rangeset: RangeSet, store: AllocStore, range_id: int | str) -> None:
        self.rangeset = rangeset
        self.store = store
        self.range_id = str(range_id)

    def get(self, container_id: str, ifname: str, requested: IP | None) -> IPConfig:
        """Reserve one address from the set; returns a 1.1.0 IP config {address, gateway}."""
        if requested is not None:
            r = self.rangeset.range_for(requested)
            if requested == r.gateway:
                raise AllocationError(f"requested ip {ipnet.ip_str(requested)} is subnet's gateway")
            if not self.store.reserve(container_id, ifname, requested, self.range_id):
                raise AllocationError(f"requested IP address {ipnet.ip_str(requested)} is not available "
                                      f"in range set {self.rangeset}")
            return _ipconfig(requested, r.plen, r.gateway)

        # Duplicate allocation is not allowed (SPEC): the index answers this, no scan.
        for held in self.store.get_by_id(container_id, ifname):
            if self.rangeset.find(held) is not None:
                raise AllocationError(f"{ipnet.ip_str(held)} has been allocated to {container_id}, "
                                      "duplicate allocation is not allowed")
        it = self.get_iter()
        while True:
            item = it.next()
            if item is None:
                break
            ip, plen, gw = item
            if self.store.reserve(container_id, ifname, ip, self.range_id):
                return _ipconfig(ip, plen, gw)
        raise AllocationError(f"no IP addresses available in range set: {self.rangeset}")

    def get_iter(self) -> RangeIter:
        last = None
        try:
            last = self.store.last_reserved_ip(self.range_id)
        except (OSError, ValueError) as exc:
            log_printf("Error retrieving last reserved ip: %v", exc)
        return RangeIter(self.rangeset, last)

    def release(self, container_id: str, ifname: str) -> None:
        self.store.release_by_id(container_id, ifname)


def _ipconfig(ip: IP, plen: int, gw: IP | None) -> IPConfig:
    out: IPConfig = {"address": ipnet.cidr_str(ip, plen)}
    if gw is not None:
        out["gateway"] = ip_text(gw)
    return out
