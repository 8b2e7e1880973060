"""An attachment's IPAM lease: taken with IPAM ADD (every IP on interface 0), given back quietly on rollback.

Talks to the IPAM plugin only (pycni.invoke); never touches links.
"""

from __future__ import annotations

from pycni import invoke
from pycni.spec.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:

    from pycni.skel import CmdArgs
    from pycni.spec.result import Result


def release_quietly(ipam: str, args: CmdArgs) -> None:
    """Rollback after a failed ADD: IPAM DEL (when there is an IPAM plugin), ignoring its errors."""
    if not ipam:
        return
    try:
        invoke.ipam_call(ipam, "DEL", args)
    except Exception:  # noqa: BLE001, S110 - a rollback must not hide the failure that caused it
        pass


def ipam_ips(ipam: str, args: CmdArgs, wrap_text: str | None = None) -> Result:
    """IPAM ADD; its result (1.1.0) with every IP pointed at interface 0. Releases the IP if it has none.
    With `wrap_text`, the delegate's error becomes ValueError("<wrap_text>: <err>")."""
    try:
        result = invoke.ipam_add(ipam, args)
    except CNIError as exc:
        if wrap_text is None:
            raise
        raise ValueError(f"{wrap_text}: {exc}") from None
    if not result.get("ips"):
        release_quietly(ipam, args)
        raise ValueError("IPAM plugin returned missing IP config")
    for ipc in result["ips"]:
        ipc["interface"] = 0
    return result
