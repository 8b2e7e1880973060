"""Precompiled-module bundles for the plugin launchers (build side; never imported by a plugin).

A launcher's exec is dominated by interpreter start-up and imports. The normal import of a pycni
module stats its directory, finds the source, checks the .pyc against it and reads a file per
module. A bundle holds, in one file, the compiled code of every pycni module a plugin can import;
the launcher (see pycni.cli.install.launcher_text) serves those modules from it through a
meta-path finder, unmarshalling each module's code only when that module is imported.

Layout (all of it written by the interpreter the launcher runs, as bytecode is per interpreter):

    MAGIC_NUMBER (4 bytes) | N (4 bytes, little-endian) | index (N bytes) | code area
    index = marshal.dumps((finder code, modules))
    modules: name -> (is_package, source path, st_mtime_ns, st_size, offset, length)

Each module's marshalled code sits at `offset` (from the start of the code area) in the code area.
The launcher checks the magic, unmarshals the index and execs the finder code with the open file,
the code area's start and `modules`; the finder reads and unmarshals a module's code only when
that module is imported (one pread, from the file the launcher opened: a bundle replaced meanwhile
cannot mix). The finder is precompiled here rather than written in the launcher because the
launcher's text is compiled on every exec (the class written there cost ~0.25 ms per exec on the
development machine), and code is read by offset rather than kept as bytes in the index so that a start-up neither
copies the whole bundle twice nor reads the code of modules it does not import.

A module is served only while its source still has the recorded mtime and size; otherwise
(edited, replaced or deleted source) that module is imported normally, so an editable install
never runs stale code. Any problem with the bundle (missing, short, corrupt, another interpreter's
magic) leaves the normal imports in place. The meta-path finder is `PycniBundle` (the loader of
every module it served); packages keep their real directory as submodule search location, so
modules not in the bundle still import normally. install runs this module in the target
interpreter (`python -I -S -c ...`, see `main`).

`from __future__ import` statements are removed from the tree and their features passed to
compile() as flags instead: the same code, minus the run-time import of `__future__` (the only
difference is that the module no longer has the feature object bound as a global, e.g.
`annotations`). Line numbers are unchanged and co_filename is the real source path, so
tracebacks and linecache behave as with a normal import.
"""

from __future__ import annotations
import __future__

import ast
import marshal
import os
import sys
import types
from importlib.util import MAGIC_NUMBER

from pycni.atomicfile import write_atomic
from pycni.plugins.registry import PLUGINS

BUNDLE_DIR = ".pycni"
SUFFIX = ".bundle"


def bundle_path(directory: str, plugin: str) -> str:
    """Where the bundle of executable `plugin` in CNI bin dir `directory` lives (absolute)."""
    return os.path.join(os.path.abspath(directory), BUNDLE_DIR, plugin + SUFFIX)


def source_of(name: str, root: str) -> tuple[str, bool] | None:
    """(source path, is_package) of pycni module `name` under root, or None if it is not one."""
    parts = name.split(".")
    if parts[0] != "pycni" or not all(p.isidentifier() for p in parts):
        return None
    base = os.path.join(os.path.abspath(root), *parts)
    init = os.path.join(base, "__init__.py")
    if os.path.isfile(init):
        return init, True
    if os.path.isfile(base + ".py"):
        return base + ".py", False
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST):  # noqa: ANN202
    """Every Import/ImportFrom in the tree, at any depth, except under `if TYPE_CHECKING:`."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        for sub in node.orelse:
            yield from _import_nodes(sub)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _import_nodes(child)


def imported_names(tree: ast.AST, name: str, is_package: bool) -> set[str]:
    """Candidate module names the module's import statements may load (not yet filtered)."""
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        if node.level:
            if package.count(".") < node.level - 1:
                continue  # beyond the top-level package: fails at run time anyway
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            mod = f"{base}.{node.module}" if node.module else base
        else:
            mod = node.module or ""
        out.add(mod)
        # `from a import b`: b may be a submodule (kept only if it resolves to a file).
        out.update(f"{mod}.{alias.name}" for alias in node.names if alias.name != "*")
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _ipam_plugin_modules() -> list[str]:
    return [m for m in PLUGINS.values() if m.startswith("pycni.plugins.ipam.")]


def _dynamic_imports(name: str, where: tuple[str, bool], tree: ast.Module) -> list[str]:
    """Modules loaded by name at run time: a plugin package's implementation modules (skel imports
    them once a command needs them), and skel's default GC/STATUS forwarder for an implementation
    that does not define both handlers."""
    out: list[str] = []
    defined = _top_level_names(tree)
    if "cmd_add" in defined and not {"cmd_gc", "cmd_status"} <= defined:
        out.append("pycni.plugins.shared.forward")
    parts = name.split(".")
    if where[1] and len(parts) == 4 and parts[:2] == ["pycni", "plugins"] and parts[2] in PLUGIN_KINDS:
        folder = os.path.dirname(where[0])
        out.extend(f"{name}.{f[:-3]}" for f in sorted(os.listdir(folder))
                   if f.endswith(".py") and f != "__init__.py" and f[:-3].isidentifier())
    return out


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


PLUGIN_KINDS = ("ipam", "main", "meta")


def module_set(module: str, root: str) -> dict[str, tuple[str, bool]]:
    """`module` and every pycni module statically reachable from it, with all parent packages.

    name -> (source path, is_package), sorted by name. Imports under `if TYPE_CHECKING:` are not
    followed; dynamic imports (`__import__(name)`) cannot be seen, except the one in invoke that
    runs pycni's IPAM plugins in-process: a plugin that can delegate gets their modules as well.
    """
    if source_of(module, root) is None:
        raise ValueError(f"{module}: no such module under {root}")
    found: dict[str, tuple[str, bool]] = {}
    todo = [module]
    delegates = True
    while todo or delegates:
        if not todo:
            delegates = False
            if "pycni.invoke" in found:
                # invoke runs pycni's own IPAM plugins in-process by a dynamic import: bundle them too
                # (read only if a delegation happens).
                todo.extend(_ipam_plugin_modules())
            continue
        for name in _parents(todo.pop()):
            if name in found:
                continue
            where = source_of(name, root)
            if where is None:
                continue
            found[name] = where
            with open(where[0], "rb") as f:
                tree = ast.parse(f.read(), where[0])
            todo.extend(n for n in imported_names(tree, name, where[1]) if n.split(".")[0] == "pycni")
            todo.extend(_dynamic_imports(name, where, tree))
    return dict(sorted(found.items()))


def compile_source(source: bytes, path: str) -> types.CodeType:
    """Compile like the normal import (optimize 0), `from __future__` imports turned into flags."""
    tree = ast.parse(source, path)
    flags = 0
    body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__" and node.level == 0:
            features = [getattr(__future__, alias.name, None) for alias in node.names]
            if all(isinstance(f, __future__._Feature) for f in features):
                for f in features:
                    flags |= f.compiler_flag  # type: ignore[union-attr]
                continue  # dropped: no run-time import of __future__
        body.append(node)
    tree.body = body
    return compile(tree, path, "exec", flags=flags, dont_inherit=True, optimize=0)


# Run by the launcher (exec'd with `fd`, `base` and `modules`): only modules loaded at start-up.
FINDER = """\
import sys, posix, marshal
from _frozen_importlib import ModuleSpec

class PycniBundle:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        e = modules.get(name)
        if e is None:
            return None
        try:
            is_package, source, mtime_ns, size, offset, length = e
            st = posix.stat(source)
            if st.st_mtime_ns != mtime_ns or st.st_size != size:
                return None  # the source changed: import it normally
            spec = ModuleSpec(name, cls, origin=source,
                              loader_state=marshal.loads(posix.pread(fd, length, base + offset)))
        except Exception:
            return None
        if is_package:
            spec.submodule_search_locations = [source.rpartition('/')[0]]
        spec.has_location = True
        return spec

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        code, module.__spec__.loader_state = module.__spec__.loader_state, None
        exec(code, module.__dict__)

if type(modules) is dict:
    sys.meta_path.insert(0, PycniBundle)
"""


def build_bundle(module: str, root: str) -> bytes:
    """The bundle for plugin `module` (pycni modules under `root`), compiled by this interpreter."""
    modules, area = {}, bytearray()
    for name, (path, is_package) in module_set(module, root).items():
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())  # before reading: a concurrent edit makes the entry stale, not wrong
            source = f.read()
        code = marshal.dumps(compile_source(source, path))
        modules[name] = (is_package, path, st.st_mtime_ns, st.st_size, len(area), len(code))
        area += code
    finder = compile(FINDER, "<pycni bundle finder>", "exec", dont_inherit=True, optimize=0)
    index = marshal.dumps((finder, modules))
    return MAGIC_NUMBER + len(index).to_bytes(4, "little") + index + bytes(area)


def read_bundle(data: bytes) -> dict[str, tuple[bool, str, int, int, bytes]]:
    """A bundle's modules, name -> (is_package, source, mtime_ns, size, marshalled code); for tests
    and inspection. ValueError if it is not a bundle for this interpreter."""
    if data[:4] != MAGIC_NUMBER:
        raise ValueError("not a bundle for this interpreter (magic number differs)")
    base = 8 + int.from_bytes(data[4:8], "little")
    _, modules = marshal.loads(data[8:base])
    return {name: (p, f, t, n, data[base + o:base + o + k]) for name, (p, f, t, n, o, k) in modules.items()}


def write_bundles(directory: str, plugins: dict[str, str], root: str) -> list[str]:
    """Build and write DIR/.pycni/<plugin>.bundle for each plugin name -> module."""
    os.makedirs(os.path.join(directory, BUNDLE_DIR), exist_ok=True)
    written = []
    for name, module in plugins.items():
        path = bundle_path(directory, name)
        write_atomic(path, build_bundle(module, root), 0o644)
        written.append(path)
    return written


def main(argv: list[str]) -> None:
    """`python -I -S -c '...' ROOT DIR NAME=MODULE...`: what install runs in the target interpreter."""
    root, directory, *pairs = argv
    for path in write_bundles(directory, dict(p.split("=", 1) for p in pairs), root):
        sys.stdout.write(path + "\n")
