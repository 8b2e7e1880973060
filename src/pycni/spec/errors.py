"""CNI error values: the well-known codes and the exception that carries one.

Errors carry their code where they are raised; nothing maps message text to codes later.
Pure: no I/O.
"""

from __future__ import annotations

# Well-known codes (SPEC.md "Error codes"; 0, 8 and 999 come from the reference library).
UNKNOWN = 0
INCOMPATIBLE_CNI_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT_VARIABLES = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_NETWORK_CONFIG = 7
INVALID_NETNS = 8
TRY_AGAIN_LATER = 11
PLUGIN_NOT_AVAILABLE = 50
PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY = 51
INTERNAL = 999


class CNIError(Exception):
    """An error with a CNI code; printed as {"code","msg","details"} by skel."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out

    def __str__(self) -> str:
        return self.msg if not self.details else f"{self.msg}; {self.details}"


def internal(msg: str) -> CNIError:
    """A plugin-logic failure: the reference wraps every plain error in code 999."""
    return CNIError(INTERNAL, msg)
