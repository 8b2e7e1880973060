"""Test-only launcher: host-local that SIGKILLs itself when the store reaches one named step.

Usage: python3 -I -S host_local_killer.py SRC_DIR STEP   (environment and stdin as for the plugin)
The plugin itself never looks for a kill request: this wrapper replaces its inert `kill_point`
hook before running the command.
"""

import posix
import sys

src, step = sys.argv[1], sys.argv[2]
sys.path.insert(0, src)

from pycni.plugins.ipam.host_local import PLUGIN  # noqa: E402
from pycni.plugins.ipam.host_local.store import crash  # noqa: E402
from pycni.skel import main  # noqa: E402


def kill_at(name: str) -> None:
    if name == step:
        posix.kill(posix.getpid(), 9)


crash.kill_point = kill_at
del sys.argv[1:]
main(PLUGIN)
