"""`pycni install-plugins DIR`: write one drop-in executable per implemented plugin.

Each launcher is a small POSIX sh script. VERSION (a constant of the plugin, asked by libcni of every
plugin in a chain before each ADD and DEL) is answered by sh itself. Anything else execs a Python
interpreter (by default the one pycni was installed with; see `--python`), isolated (-I: no PYTHON*
variables, no user site) and without `site` (-S: the package directory is put on sys.path directly),
which imports only that plugin's module and exits without interpreter teardown once its answer is
flushed.

Next to the launchers, DIR/.pycni/<plugin>.bundle holds the plugin's pycni modules precompiled by
that interpreter (pycni.cli.bundle); the launcher serves them from there while their sources are
unchanged and falls back to normal imports for anything else, or when the bundle is missing,
damaged or for another interpreter. Files are replaced atomically.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pycni
from pycni.atomicfile import write_atomic
from pycni.cli.bundle import bundle_path
from pycni.invoke import LAUNCHER_MARK
from pycni.plugins.registry import PLUGINS

# pyproject.toml's requires-python (tests/unit/test_install_bundle.py keeps the two in step).
MIN_PYTHON = (3, 11)


class InstallError(Exception):
    """The plugins cannot be installed as asked (e.g. an unusable --python)."""


def package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(pycni.__file__)))


# Loads the bundle (layout and finder: pycni.cli.bundle) with modules loaded at start-up only. Kept
# short: the launcher is compiled on every exec. Any problem leaves the normal imports in place.
_BUNDLE_LOADER = """\
try:  # precompiled pycni modules (pycni.cli.bundle); any problem: normal imports
    import marshal, posix, _frozen_importlib_external as _fe
    _fd = posix.open({path}, posix.O_RDONLY)
    _h = posix.pread(_fd, 8, 0)
    if _h[:4] == _fe.MAGIC_NUMBER:
        _n = int.from_bytes(_h[4:], "little")
        _c, _m = marshal.loads(posix.pread(_fd, _n, 8))
        exec(_c, {{"fd": _fd, "base": 8 + _n, "modules": _m}})
except Exception:
    pass
"""


def _py_str(text: str) -> str:
    """A Python literal for `text`, in double quotes when it can be (the code sits in sh single quotes)."""
    if text.isprintable() and text.isascii() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def _python_part(module: str, root: str, bundle: str | None) -> str:
    """What the interpreter runs (`python -IS -c`): the bundle loader, the plugin, an exit without teardown."""
    return (
        "import sys\n"
        f"sys.path.insert(0, {_py_str(root)})\n"
        + (_BUNDLE_LOADER.format(path=_py_str(bundle)) if bundle else "")
        + f"from {module} import PLUGIN\n"
        "from pycni.skel import main\n"
        "try:\n"
        "    main(PLUGIN)\n"
        "except SystemExit as done:\n"
        "    # Output is complete: flush it and skip interpreter teardown (~1.5 ms of a ~10 ms exec).\n"
        "    for stream in (sys.stdout, sys.stderr):\n"
        "        try:\n"
        "            stream.flush()\n"
        "        except (AttributeError, OSError):\n"
        "            pass\n"
        "    import posix\n"
        "    posix._exit(0 if done.code is None else done.code if isinstance(done.code, int) else 1)\n"
    )


def launcher_text(module: str, python: str | None = None, root: str | None = None,
                  bundle: str | None = None, version_reply: str | None = None) -> str:
    """The launcher for plugin `module`: a POSIX sh script that answers VERSION itself (`version_reply`,
    the plugin's constant answer: libcni asks every plugin of a chain before each ADD and DEL, and sh
    answers in under 1 ms where an interpreter start takes 7-15) and execs the interpreter for
    everything else. With `bundle` (an absolute path) the interpreter loads that bundle first."""
    python = python or sys.executable
    root = root or package_root()
    if version_reply is None:
        version_reply = _version_replies(python, root, [module])[module]
    return (
        "#!/bin/sh\n"
        f"{LAUNCHER_MARK.decode()}{module}\n"
        "# pycni launcher: VERSION's answer is constant, so sh gives it; anything else runs in Python.\n"
        'if [ "$CNI_COMMAND" = VERSION ] && [ $# -eq 0 ]; then\n'
        f"    printf '%s' {shlex.quote(version_reply)}\n"
        "    exit 0\n"
        "fi\n"
        f"exec {shlex.quote(python)} -IS -c {shlex.quote(_python_part(module, root, bundle))} \"$@\"\n"
    )


_REPLIES = """\
import sys
sys.path.insert(0, sys.argv[1])
from pycni.skel import version_reply
for m in sys.argv[2:]:
    sys.stdout.write(m + ' ' + version_reply(__import__(m, fromlist=['PLUGIN']).PLUGIN.versions))
"""


def _version_replies(python: str, root: str, modules: list[str]) -> dict[str, str]:
    """Each plugin's VERSION answer, as `python` running the pycni at `root` gives it."""
    p = subprocess.run([python, "-I", "-S", "-c", _REPLIES, root, *modules], capture_output=True, timeout=120)
    if p.returncode != 0:
        why = p.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {p.returncode}"]
        raise InstallError(f"asking the plugins for their VERSION answer failed: {why[-1]}")
    out = {}
    for line in p.stdout.decode().splitlines(keepends=True):
        module, _, reply = line.partition(" ")
        out[module] = reply
    return out


def resolve_python(python: str) -> str:
    """The absolute path of interpreter `python` (a bare name is looked up on PATH) for the shebang."""
    found = shutil.which(python) if os.sep not in python else python
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise InstallError(f"--python {python}: no such executable file")
    return os.path.abspath(found)


_CHECK = """\
import sys
sys.stdout.write('%s %d %d\\n' % (sys.implementation.name, sys.version_info[0], sys.version_info[1]))
sys.stdout.flush()
sys.path.insert(0, sys.argv[1])
import pycni
sys.stdout.write(pycni.__file__ + '\\n')
"""


def check_python(python: str, root: str) -> None:
    """InstallError unless `python` runs, is CPython >= MIN_PYTHON and imports pycni from `root`."""
    want = "%d.%d" % MIN_PYTHON
    try:
        p = subprocess.run([python, "-I", "-S", "-c", _CHECK, root], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InstallError(f"--python {python}: cannot run it: {exc}") from None
    lines = p.stdout.decode("utf-8", "replace").splitlines()
    head = lines[0].split() if lines else []
    if len(head) != 3 or not head[1].isdigit() or not head[2].isdigit():
        why = (p.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {p.returncode}"])[0]
        raise InstallError(f"--python {python}: not a usable Python {want}+ interpreter ({why})")
    impl, version = head[0], (int(head[1]), int(head[2]))
    if impl != "cpython" or version < MIN_PYTHON:
        raise InstallError(f"--python {python}: is {impl} {version[0]}.{version[1]}; "
                           f"pycni needs CPython {want} or later")
    expected = os.path.realpath(os.path.join(root, "pycni", "__init__.py"))
    if p.returncode != 0 or len(lines) < 2 or os.path.realpath(lines[1]) != expected:
        why = (p.stderr.decode("utf-8", "replace").strip().splitlines() or [f"imported {lines[1:2]}"])[-1]
        raise InstallError(f"--python {python}: cannot import pycni from {root} ({why})")


_BUILD = "import sys; sys.path.insert(0, sys.argv[1]); from pycni.cli.bundle import main; main(sys.argv[1:])"


def build_bundles(python: str, root: str, directory: str, plugins: dict[str, str]) -> None:
    """Have `python` compile and write DIR/.pycni/<name>.bundle (bytecode is per interpreter)."""
    args = [python, "-I", "-S", "-c", _BUILD, root, directory] + [f"{n}={m}" for n, m in plugins.items()]
    p = subprocess.run(args, capture_output=True, timeout=300)
    if p.returncode != 0:
        why = p.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {p.returncode}"]
        raise InstallError(f"building the module bundles with {python} failed: {why[-1]}")


def install(directory: str, names: list[str] | None = None, python: str | None = None,
            root: str | None = None) -> list[str]:
    """Write the launchers (and their bundles) for `names` (default: all) into `directory`.

    `python` is the interpreter the launchers run (default: this one); `root` the directory holding
    the pycni package they import (default: this pycni's). Returns the launcher paths.
    """
    python = resolve_python(python) if python else sys.executable
    root = os.path.abspath(root) if root else package_root()
    check_python(python, root)
    chosen = {name: module for name, module in sorted(PLUGINS.items()) if not names or name in names}
    os.makedirs(directory, exist_ok=True)
    build_bundles(python, root, directory, chosen)
    replies = _version_replies(python, root, list(chosen.values()))
    written = []
    for name, module in chosen.items():
        target = os.path.join(directory, name)
        text = launcher_text(module, python, root, bundle_path(directory, name), replies[module])
        write_atomic(target, text.encode(), 0o755)
        written.append(target)
    return written
