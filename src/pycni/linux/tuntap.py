"""Persistent tun/tap devices through /dev/net/tun ioctls (TUNSETIFF, TUNSETOWNER, TUNSETGROUP, TUNSETPERSIST).

The device is created in the network namespace of the calling thread (the kernel takes it from the thread that
opens /dev/net/tun), so enter the target namespace first. The queue fd is closed once the device is persistent;
nothing here reads or writes packets. MTU, MAC, master and up state are netlink's business (linux/link.py).
"""

from __future__ import annotations

import fcntl
import os
import struct

from pycni.gofmt import errno_text

TUN_DEVICE = "/dev/net/tun"

# linux/if_tun.h
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_MULTI_QUEUE = 0x0100
IFF_NO_PI = 0x1000
IFF_ONE_QUEUE = 0x2000
IFF_VNET_HDR = 0x4000
IFF_TUN_EXCL = 0x8000

IFNAMSIZ = 16
_IFREQ = struct.Struct("=16sH22x")  # struct ifreq: name + ifr_flags, padded to 40 bytes


def _iow(nr: int) -> int:
    """_IOW('T', nr, int) for this architecture (the direction bits differ on powerpc, mips and sparc)."""
    machine = os.uname().machine
    if machine.startswith(("ppc", "powerpc", "mips", "sparc")):
        write, size_shift, dir_shift = 4, 16, 29
    else:
        write, size_shift, dir_shift = 1, 16, 30
    return (write << dir_shift) | (4 << size_shift) | (ord("T") << 8) | nr


TUNSETIFF = _iow(202)
TUNSETPERSIST = _iow(203)
TUNSETOWNER = _iow(204)
TUNSETGROUP = _iow(206)


class TuntapError(OSError):
    """A failed ioctl; str() as the reference's netlink library words it."""

    def __init__(self, err: int, text: str) -> None:
        super().__init__(err, text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def ifreq(name: str, flags: int) -> bytes:
    raw = name.encode()
    if len(raw) >= IFNAMSIZ:
        raise ValueError(f"interface name {name!r} is too long")
    return _IFREQ.pack(raw, flags & 0xFFFF)


def tap_flags(*, vnet_hdr: bool, no_pi: bool, multi_queue: bool) -> int:
    flags = IFF_TAP
    if vnet_hdr:
        flags |= IFF_VNET_HDR
    if no_pi:
        flags |= IFF_NO_PI
    if multi_queue:
        flags |= IFF_MULTI_QUEUE
    return flags


def create(name: str, flags: int, *, owner: int | None = None, group: int | None = None,
           persist: bool = True) -> str:
    """Create tun/tap `name` with `flags` (IFF_TUN or IFF_TAP plus options), optionally owned by uid/gid, and make
    it persistent. Returns the kernel's name for it. TuntapError on failure (nothing is left behind)."""
    try:
        fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise TuntapError(e.errno or 0, f"open {TUN_DEVICE}: {errno_text(e.errno or 0)}") from None
    try:
        req = bytearray(ifreq(name, flags))
        try:
            fcntl.ioctl(fd, TUNSETIFF, req)
        except OSError as e:
            raise TuntapError(e.errno or 0, f"Tuntap IOCTL TUNSETIFF failed [0], errno {errno_text(e.errno or 0)}") from None
        for what, req_no, value in (("TUNSETOWNER", TUNSETOWNER, owner), ("TUNSETGROUP", TUNSETGROUP, group)):
            if value is None:
                continue
            try:
                fcntl.ioctl(fd, req_no, value)
            except OSError as e:
                raise TuntapError(e.errno or 0, f"Tuntap IOCTL {what} failed [0], errno {errno_text(e.errno or 0)}") from None
        if persist:
            try:
                fcntl.ioctl(fd, TUNSETPERSIST, 1)
            except OSError as e:
                raise TuntapError(e.errno or 0, f"Tuntap IOCTL TUNSETPERSIST failed, errno {errno_text(e.errno or 0)}") from None
        return _IFREQ.unpack(bytes(req))[0].split(b"\0", 1)[0].decode()
    finally:
        os.close(fd)  # a non-persistent device (or one whose setup failed) goes away here
