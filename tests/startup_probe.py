"""Run one plugin command in this interpreter and report which modules it loaded.

Usage: python -I -S tests/startup_probe.py SRC_DIR MODULE   (env and stdin as for the plugin)
The module list goes to stderr after a marker line; the plugin's own output is left on stdout.
Nothing is imported here before the plugin, so the list is exactly the plugin's cost.
"""

import sys

root, module = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
before = set(sys.modules)
plugin = __import__(module, fromlist=["PLUGIN"])
from pycni.skel import main  # noqa: E402 - after the plugin, as the launcher does

try:
    main(plugin.PLUGIN)
except SystemExit:
    pass
sys.stderr.write("\nPYCNI-MODULES " + " ".join(sorted(set(sys.modules) - before)) + "\n")
