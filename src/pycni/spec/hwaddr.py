"""MAC addresses as text: Go's net.ParseMAC and HardwareAddr.String, with no I/O and no imports.

Apart from the netlink codec so that code which only validates a MAC (config decoding) loads nothing more.
"""

from __future__ import annotations


class MACError(ValueError):
    """Not a MAC address; str() is Go's `address <text>: invalid MAC address`."""


def parse_mac(mac: str) -> bytes:
    """Accept aa:bb:.., aa-bb-.. and aabb.ccdd.. forms of 6, 8 or 20 bytes, as Go's net.ParseMAC."""
    err = MACError(f"address {mac}: invalid MAC address")
    if len(mac) >= 14 and mac[4] == ".":
        groups = mac.split(".")
        if any(len(g) != 4 for g in groups):
            raise err
        hexdigits = "".join(groups)
    elif len(mac) >= 14 and mac[2] in ":-":
        groups = mac.split(mac[2])
        if any(len(g) != 2 for g in groups):
            raise err
        hexdigits = "".join(groups)
    else:
        raise err
    try:
        raw = bytes.fromhex(hexdigits)
    except ValueError:
        raise err from None
    if len(raw) not in (6, 8, 20) or not all(c in "0123456789abcdefABCDEF" for c in hexdigits):
        raise err
    return raw


def mac_str(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)
