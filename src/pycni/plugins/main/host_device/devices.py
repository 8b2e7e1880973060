"""`host-device`'s device selection: runtimeConfig.deviceID, DPDK drivers, and the host link a selector names
(by name, MAC, kernel path, PCI or auxiliary device), with upstream's texts.

Reads sysfs and the kernel's link list of the current netns; changes nothing.
"""

from __future__ import annotations

import os

from pycni.gofmt import errno_text, q
from pycni.linux import link
from pycni.netlink import codec as c
from pycni.netlink.socket import wrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycni.netlink.codec import Link

SYS_BUS_PCI = "/sys/bus/pci/devices"
SYS_BUS_AUXILIARY = "/sys/bus/auxiliary/devices"
USERSPACE_DRIVERS = ("vfio-pci", "uio_pci_generic", "igb_uio")


def handle_device_id(conf: dict[str, Any]) -> None:
    """runtimeConfig.deviceID names a PCI device (-> pciBusID) or an auxiliary one (-> auxDevice)."""
    dev = (conf.get("runtimeConfig") or {}).get("deviceID", "")
    if not dev:
        return
    if os.path.exists(os.path.join(SYS_BUS_PCI, dev)):
        conf["pciBusID"] = dev
        return
    if os.path.exists(os.path.join(SYS_BUS_AUXILIARY, dev)):
        conf["pciBusID"] = ""
        conf["auxDevice"] = dev
        return
    raise ValueError(f"runtime config DeviceID {dev} not found or unsupported")


def has_dpdk_driver(pciaddr: str) -> bool:
    """The PCI device's driver (its `driver` symlink) is a userspace one; OSError text as Go's."""
    target = os.path.realpath(os.path.join(SYS_BUS_PCI, pciaddr, "driver"), strict=True)
    os.stat(target)
    return os.path.basename(target) in USERSPACE_DRIVERS


def path_error(exc: OSError) -> str:
    """Go's *fs.PathError text of a failed lstat."""
    return f"lstat {exc.filename}: {errno_text(exc.errno or 0)}" if exc.filename else errno_text(exc.errno or 0)


def _link_from_path(path: str) -> Link:
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        err = f"open {path}: {errno_text(exc.errno or 0)}"
        raise ValueError(f'failed to read directory {path}: "{err}"') from None
    if not entries:
        raise ValueError(f"failed to find network device in path {path}")
    return link.link_by_name(entries[0])


def get_link(conf: dict[str, Any]) -> Link:
    """The host link selected by the config (the reference's getLink; first selector that is set wins)."""
    if conf.get("device"):
        return link.link_by_name(conf["device"])
    if conf.get("hwaddr"):
        try:
            want = c.mac_str(c.parse_mac(conf["hwaddr"]))
        except c.MACError as exc:
            raise ValueError(f"failed to parse MAC address {q(conf['hwaddr'])}: {exc}") from None
        with wrap("failed to list node links"):
            links = link.link_list()
        for lk in links:
            if (lk.address or "") == want:
                return lk
    elif conf.get("kernelpath"):
        kp = conf["kernelpath"]
        if not os.path.isabs(kp) or not kp.startswith("/sys/devices/"):
            raise ValueError(f"kernel device path {q(kp)} must be absolute and begin with /sys/devices/")
        return _link_from_path(os.path.normpath(os.path.join(kp, "net")))
    elif conf.get("pciBusID"):
        pci = conf["pciBusID"]
        net_dir = os.path.normpath(os.path.join(SYS_BUS_PCI, pci, "net"))
        if not os.path.lexists(net_dir):
            import glob  # lazy: glob pulls in re and fnmatch; only virtio PCI devices get here

            matches = sorted(glob.glob(os.path.join(SYS_BUS_PCI, pci, "virtio*", "net")))
            if not matches:
                raise ValueError(f"no net directory under pci device {pci}")
            net_dir = matches[0]
        return _link_from_path(net_dir)
    elif conf.get("auxDevice"):
        return _link_from_path(os.path.normpath(os.path.join(SYS_BUS_AUXILIARY, conf["auxDevice"], "net")))
    raise ValueError("failed to find physical interface")
