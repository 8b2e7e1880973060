"""Named steps of a store command ("add:linked", "del:committed", ...) where a test can crash it.

Production never crashes here: `kill_point` does nothing until a test replaces it (a fixture in
process, or tests/integration/host_local_killer.py for a real SIGKILL). Call it through the module
(`crash.kill_point(...)`), never import the name, so the replacement is seen.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _inert(step: str) -> None:
    return None


kill_point: Callable[[str], None] = _inert
