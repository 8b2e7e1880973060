"""install-plugins' precompiled-module bundles (pycni.cli.bundle) and the launchers that load them.

Launchers are run for real (fresh interpreters, no root). A probe runs a launcher's text in a fresh
`python -I -S` with posix._exit wrapped, so that after the plugin answered it can report which
loader served each pycni module. Sources are only ever changed in a temporary copy of the tree.
"""

from __future__ import annotations

import __future__
import ast
import json
import marshal
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pycni
from pycni.cli import bundle as B
from pycni.cli.install import MIN_PYTHON, install, launcher_text
from pycni.cli.main import main as cli_main
from pycni.plugins.registry import PLUGINS

SRC = str(Path(pycni.__file__).resolve().parent.parent)
PROBE = str(Path(__file__).resolve().parent.parent / "startup_probe.py")
REPO = Path(SRC).parent
DEBIAN = "/usr/bin/python3.11"
ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/some/where", "CNI_IFNAME": "eth0", "CNI_PATH": "/nonexistent",
       "PATH": "/usr/bin:/bin"}
STATIC_CONF = json.dumps({
    "cniVersion": "1.1.0", "name": "n", "type": "static",
    "ipam": {"type": "static",
             "addresses": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}, {"address": "fd00::2/64"}],
             "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}], "dns": {"nameservers": ["8.8.8.8"]}},
}).encode()
# (env, stdin) of the static runs compared with and without a bundle; the last is a bad input.
STATIC_RUNS = [({"CNI_COMMAND": "ADD"}, STATIC_CONF), ({"CNI_COMMAND": "VERSION"}, b""),
               ({"CNI_COMMAND": "ADD"}, b"not json")]

# Runs the launcher text (argv[1]) as the kernel would, then reports, per pycni module, the loader
# class name and whether the module has a global CHANGED, and whether __future__ was imported.
LAUNCHER_PROBE = r"""
import sys, posix
path, text = sys.argv[1], sys.argv[2]
real_exit = posix._exit
def report(code=0):
    mods = {}
    for name, m in list(sys.modules.items()):
        if name == 'pycni' or name.startswith('pycni.'):
            loader = m.__spec__.loader
            mods[name] = [loader.__name__ if isinstance(loader, type) else type(loader).__name__,
                          'CHANGED' in vars(m)]
    sys.stdout.flush()
    posix.write(2, ('\nPYCNI-PROBE ' + repr({'modules': mods, 'future': '__future__' in sys.modules}) + '\n').encode())
    real_exit(code)
posix._exit = report
sys.argv = [path]
exec(compile(text, path, 'exec'), {'__name__': '__main__'})
report(0)
"""


def launcher_parts(launcher: str) -> tuple[str, str]:
    """(the interpreter, the Python code) of a launcher's `exec python -IS -c CODE "$@"` line."""
    text = Path(launcher).read_text()
    argv = shlex.split(text[text.index("\nexec ") + 6:])
    assert argv[1:3] == ["-IS", "-c"] and argv[4:] == ["$@"], argv
    return argv[0], argv[3]


def run(launcher: str, env: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([launcher], env={**ENV, **env}, input=stdin, capture_output=True, timeout=60)


def probe(launcher: str, env: dict[str, str], stdin: bytes) -> tuple[subprocess.CompletedProcess[bytes], dict]:
    python, code = launcher_parts(launcher)
    p = subprocess.run([python, "-I", "-S", "-c", LAUNCHER_PROBE, launcher, code],
                       env={**ENV, **env}, input=stdin, capture_output=True, timeout=60)
    lines = [line for line in p.stderr.decode().splitlines() if line.startswith("PYCNI-PROBE ")]
    assert lines, p.stderr.decode()
    return p, ast.literal_eval(lines[-1].split(" ", 1)[1])


def loaders(report: dict) -> dict[str, str]:
    return {name: loader for name, (loader, _) in report["modules"].items()}


def static_add(launcher: str) -> dict:
    p, report = probe(launcher, {"CNI_COMMAND": "ADD"}, STATIC_CONF)
    assert p.returncode == 0, p.stdout
    return report


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(a dir with every launcher and its bundle, the same launchers with the .pycni dir removed)."""
    with_b, without_b = str(tmp_path_factory.mktemp("with")), str(tmp_path_factory.mktemp("without"))
    install(with_b)
    install(without_b)
    shutil.rmtree(os.path.join(without_b, B.BUNDLE_DIR))
    return with_b, without_b


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A throwaway copy of the source tree (its sources may be touched), without __pycache__."""
    root = tmp_path / "src"
    shutil.copytree(Path(SRC) / "pycni", root / "pycni", ignore=shutil.ignore_patterns("__pycache__"))
    return root


# --- the module set -----------------------------------------------------------------------------


def startup_modules(module: str, env: dict[str, str], stdin: bytes = b"") -> set[str]:
    """The pycni modules a fresh `python -I -S` imports to run one plugin command (tests/startup_probe.py)."""
    p = subprocess.run([sys.executable, "-I", "-S", PROBE, SRC, module], input=stdin, env={**ENV, **env},
                       capture_output=True, timeout=60)
    marker = [line for line in p.stderr.decode().splitlines() if line.startswith("PYCNI-MODULES ")]
    assert marker, p.stderr.decode()
    return {m for m in marker[-1].split()[1:] if m == "pycni" or m.startswith("pycni.")}


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_module_set_covers_what_version_imports(name: str) -> None:
    module = PLUGINS[name]
    found = B.module_set(module, SRC)
    assert module in found and all(path.startswith(SRC + "/pycni/") for path, _ in found.values())
    used = startup_modules(module, {"CNI_COMMAND": "VERSION"})
    assert used <= set(found), f"imported but not bundled: {sorted(used - set(found))}"


def test_module_set_covers_what_static_add_imports() -> None:
    module = PLUGINS["static"]
    used = startup_modules(module, {"CNI_COMMAND": "ADD"}, STATIC_CONF)
    assert {"pycni.spec.gojson", "pycni.spec.result"} <= used  # the ADD path really ran
    assert used <= set(B.module_set(module, SRC)), sorted(used - set(B.module_set(module, SRC)))


def test_module_set_covers_what_host_local_add_and_del_import(tmp_path: Path) -> None:
    module = PLUGINS["host-local"]
    conf = json.dumps({"cniVersion": "1.1.0", "name": "mynet", "type": "ipvlan", "master": "foo0",
                       "ipam": {"type": "host-local", "dataDir": str(tmp_path / "data"),
                                "ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "fd00:1::/64"}]],
                                "routes": [{"dst": "0.0.0.0/0"}]}}).encode()
    used = startup_modules(module, {"CNI_COMMAND": "ADD"}, conf)
    assert "pycni.plugins.ipam.host_local.store" in used and os.listdir(tmp_path / "data" / "mynet")
    used |= startup_modules(module, {"CNI_COMMAND": "DEL"}, conf)
    assert used <= set(B.module_set(module, SRC)), sorted(used - set(B.module_set(module, SRC)))


def test_plugins_that_delegate_carry_the_ipam_plugins_run_in_process() -> None:
    # invoke imports pycni's own IPAM plugin by name (no static import to follow): bundled anyway.
    ipam = {m for m in PLUGINS.values() if m.startswith("pycni.plugins.ipam.")}
    for name in ("bridge", "ptp", "macvlan"):
        mods = set(B.module_set(PLUGINS[name], SRC))
        assert "pycni.invoke" in mods and ipam <= mods, name
        assert "pycni.plugins.ipam.host_local.store" in mods
    assert "pycni.plugins.ipam.host_local" not in B.module_set(PLUGINS["static"], SRC)


def test_the_static_analysis_follows_every_import_form(tmp_path: Path) -> None:
    files = {
        "pycni/__init__.py": "",
        "pycni/a/__init__.py": "from . import b\n",
        "pycni/a/b.py": "import os\nfrom .c import thing\ndef f():\n    from ..d import e\n    import pycni.g.h\n",
        "pycni/a/c.py": "thing = 1\n",
        "pycni/d/__init__.py": "",
        "pycni/d/e.py": "class K:\n    def m(self):\n        from pycni import f\n",
        "pycni/f.py": ("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from pycni import typed_only\n"
                       "else:\n    from pycni import j\n"),
        "pycni/g/__init__.py": "",
        "pycni/g/h.py": "from pycni.d import e as alias, nothing_such\n",
        "pycni/j.py": "",
        "pycni/typed_only.py": "",
        "pycni/unreached.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = B.module_set("pycni.a", str(tmp_path))
    assert list(found) == ["pycni", "pycni.a", "pycni.a.b", "pycni.a.c", "pycni.d", "pycni.d.e", "pycni.f",
                           "pycni.g", "pycni.g.h", "pycni.j"]
    assert found["pycni.a"] == (str(tmp_path / "pycni/a/__init__.py"), True)
    assert found["pycni.a.c"] == (str(tmp_path / "pycni/a/c.py"), False)


# --- the bundle file -----------------------------------------------------------------------------


def test_bundle_entries_are_the_sources_compiled_as_a_normal_import_would(tree: Path) -> None:
    data = B.build_bundle(PLUGINS["static"], str(tree))
    assert data[:4] == B.MAGIC_NUMBER
    entries = B.read_bundle(data)
    assert set(entries) == set(B.module_set(PLUGINS["static"], str(tree)))
    for name, (is_package, path, mtime_ns, size, blob) in entries.items():
        st = os.stat(path)
        assert path == str(tree / name.replace(".", "/")) + ("/__init__.py" if is_package else ".py")
        assert (st.st_mtime_ns, st.st_size) == (mtime_ns, size)
        code = marshal.loads(blob)
        assert code.co_filename == path  # tracebacks and linecache find the real source
        source = Path(path).read_text()
        if "from __future__ import annotations" in source:
            assert code.co_flags & __future__.annotations.compiler_flag
            assert "__future__" not in code.co_names
        if '"""' in source.split("\n", 1)[0]:
            assert code.co_consts[0] == ast.get_docstring(ast.parse(source), clean=False)  # optimize 0


def test_future_annotations_semantics_are_kept() -> None:
    source = (b'"""Doc."""\n\nfrom __future__ import annotations\n\nimport sys\n\n'
              b"def f(x: Undefined) -> AlsoUndefined:\n    return x\n\n"
              b"class C:\n    y: Nope[int]\n\ndef fail():\n    assert False, 'line 14'\n")
    code = B.compile_source(source, "/nowhere/mod.py")
    assert "__future__" not in code.co_names
    ns: dict = {}
    exec(code, ns)  # an annotation naming an undefined type does not fail
    assert ns["f"].__annotations__ == {"x": "Undefined", "return": "AlsoUndefined"}
    assert ns["C"].__annotations__ == {"y": "Nope[int]"}
    assert ns["__doc__"] == "Doc." and "annotations" not in ns
    with pytest.raises(AssertionError) as info:  # asserts kept, line numbers unchanged
        ns["fail"]()
    tb = info.value.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    assert (tb.tb_frame.f_code.co_filename, tb.tb_lineno) == ("/nowhere/mod.py", 14)


def test_min_python_is_pyprojects() -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=%d.%d" % MIN_PYTHON


def test_install_writes_bundles_in_a_hidden_dir(bins: tuple[str, str]) -> None:
    with_b, _ = bins
    assert sorted(os.listdir(with_b)) == sorted([*PLUGINS, B.BUNDLE_DIR])
    assert sorted(os.listdir(os.path.join(with_b, B.BUNDLE_DIR))) == sorted(f"{n}.bundle" for n in PLUGINS)
    for name, module in PLUGINS.items():
        launcher = os.path.join(with_b, name)
        assert os.stat(launcher).st_mode & 0o777 == 0o755
        text = Path(launcher).read_text()
        assert text.splitlines()[:2] == ["#!/bin/sh", f"# pycni-plugin: {module}"]
        _, code = launcher_parts(launcher)
        assert f'"{B.bundle_path(with_b, name)}"' in code and os.path.isabs(B.bundle_path(with_b, name))
        imported = {a.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ImportFrom)}
        assert imported == {"sys", "posix", "marshal", "_frozen_importlib_external", module, "pycni.skel"}  # all loaded at start-up


def test_the_launchers_bundle_loading_imports_nothing(bins: tuple[str, str]) -> None:
    with_b, _ = bins
    module = PLUGINS["static"]
    head = launcher_parts(os.path.join(with_b, "static"))[1].split(f"from {module} import PLUGIN\n")[0]
    code = ("import sys\nbefore = set(sys.modules)\n" + head +
            "print(sorted(set(sys.modules) - before), type(sys.meta_path[0]).__name__, sys.meta_path[0].__name__)")
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.split() == ["[]", "type", "PycniBundle"], p.stderr


# --- launchers with and without a bundle ---------------------------------------------------------


@pytest.mark.parametrize("env, stdin", STATIC_RUNS)
def test_a_bundle_changes_no_byte_of_the_answer(bins: tuple[str, str], env: dict[str, str], stdin: bytes) -> None:
    with_b, without_b = bins
    a, b = run(os.path.join(with_b, "static"), env, stdin), run(os.path.join(without_b, "static"), env, stdin)
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    assert a.stdout and (a.returncode == 0) == (stdin != b"not json")


def test_bundled_modules_come_from_the_bundle_and_skip_future(bins: tuple[str, str]) -> None:
    with_b, without_b = bins
    report = static_add(os.path.join(with_b, "static"))
    assert set(loaders(report).values()) == {"PycniBundle"} and len(report["modules"]) > 10
    assert report["future"] is False
    plain = static_add(os.path.join(without_b, "static"))
    assert set(loaders(plain).values()) == {"SourceFileLoader"} and plain["future"] is True
    assert set(plain["modules"]) == set(report["modules"])


def test_a_touched_or_edited_source_is_imported_from_source(tree: Path, tmp_path: Path) -> None:
    d = str(tmp_path / "bin")
    launcher = install(d, ["static"], root=str(tree))[0]
    assert set(loaders(static_add(launcher)).values()) == {"PycniBundle"}
    gojson = tree / "pycni/spec/gojson.py"
    st = gojson.stat()
    os.utime(gojson, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same content, newer mtime
    with open(tree / "pycni/spec/version.py", "a") as f:  # new content
        f.write("\nCHANGED = True\n")
    os.utime(tree / "pycni/spec/version.py", ns=(st.st_atime_ns, st.st_mtime_ns))  # ...even under the old mtime
    report = static_add(launcher)
    assert loaders(report)["pycni.spec.gojson"] == "SourceFileLoader"
    assert report["modules"]["pycni.spec.version"] == ["SourceFileLoader", True]
    others = {n: v for n, v in loaders(report).items() if n not in ("pycni.spec.gojson", "pycni.spec.version")}
    assert set(others.values()) == {"PycniBundle"}  # the rest still from the bundle
    assert "pycni.spec" in others  # ...including the package whose submodules came from source


def test_a_deleted_source_is_not_run_from_the_bundle(tree: Path, tmp_path: Path) -> None:
    with_b = install(str(tmp_path / "a"), ["static"], root=str(tree))[0]
    without_b = install(str(tmp_path / "b"), ["static"], root=str(tree))[0]
    shutil.rmtree(tmp_path / "b" / B.BUNDLE_DIR)
    (tree / "pycni/spec/result.py").unlink()
    a, b = run(with_b, *STATIC_RUNS[0]), run(without_b, *STATIC_RUNS[0])
    assert a.returncode == b.returncode != 0 and a.stdout == b.stdout and b"result" in a.stdout


def corrupt(path: str, how: str) -> None:
    data = Path(path).read_bytes()
    n = 8 + int.from_bytes(data[4:8], "little")
    Path(path).write_bytes({
        "empty": b"",
        "garbage": bytes(range(256)) * 40,
        "wrong magic": bytes([data[0] ^ 0xFF]) + data[1:],
        "short index": data[:n // 2],
        "bad index": data[:8] + b"\x00" * (n - 8) + data[n:],
        "short code": data[:n + (len(data) - n) // 2],
    }[how])


@pytest.mark.parametrize("how", ["empty", "garbage", "wrong magic", "short index", "bad index", "short code"])
def test_a_damaged_bundle_falls_back_to_normal_imports(bins: tuple[str, str], tmp_path: Path, how: str) -> None:
    _, without_b = bins
    d = str(tmp_path / "bin")
    launcher = install(d, ["static"])[0]
    corrupt(B.bundle_path(d, "static"), how)
    for env, stdin in STATIC_RUNS:
        a, b = run(launcher, env, stdin), run(os.path.join(without_b, "static"), env, stdin)
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    used = set(loaders(static_add(launcher)).values())
    if how == "short code":  # the modules whose code is complete are still served
        assert used == {"PycniBundle", "SourceFileLoader"}
    else:
        assert used == {"SourceFileLoader"}


def test_a_missing_bundle_falls_back(bins: tuple[str, str]) -> None:
    _, without_b = bins
    assert set(loaders(static_add(os.path.join(without_b, "static"))).values()) == {"SourceFileLoader"}


# --- --python ------------------------------------------------------------------------------------


def magic_of(python: str) -> bytes:
    code = "import sys, importlib.util; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"
    return subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, check=True).stdout


@pytest.mark.skipif(not os.path.exists(DEBIAN), reason=f"{DEBIAN} is not installed")
def test_install_with_another_python(bins: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_b, _ = bins
    d = str(tmp_path / "bin")
    assert cli_main(["install-plugins", "--python", DEBIAN, d, "--only", "static", "host-local"]) == 0
    assert capsys.readouterr().out.split() == [os.path.join(d, "host-local"), os.path.join(d, "static")]
    launcher = os.path.join(d, "static")
    assert launcher_parts(launcher)[0] == DEBIAN
    assert Path(B.bundle_path(d, "static")).read_bytes()[:4] == magic_of(DEBIAN)
    for env, stdin in STATIC_RUNS:
        a, b = run(launcher, env, stdin), run(os.path.join(with_b, "static"), env, stdin)
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    report = static_add(launcher)  # run by DEBIAN, as its shebang says
    assert set(loaders(report).values()) == {"PycniBundle"} and report["future"] is False


@pytest.mark.parametrize("python, message", [
    ("/nonexistent/python3", "no such executable file"),
    ("/bin/true", "not a usable Python 3.11+ interpreter"),
    ("/root/.pyenv/versions/3.10.13/bin/python3", "is cpython 3.10; pycni needs CPython 3.11 or later"),
])
def test_an_unusable_python_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], python: str,
                                      message: str) -> None:
    if python.startswith("/root/") and not os.access(python, os.X_OK):
        pytest.skip(f"{python} is not installed")
    d = tmp_path / "bin"
    assert cli_main(["install-plugins", "--python", python, str(d)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pycni install-plugins: error: --python {python}: ") and message in err
    assert not d.exists() or not os.listdir(d)


def test_launcher_text_without_a_bundle_is_todays() -> None:
    text = launcher_text(PLUGINS["static"], "/usr/bin/python3", "/x", version_reply='{"v":1}\n')
    assert "bundle" not in text
    assert text.startswith("#!/bin/sh\n# pycni-plugin: pycni.plugins.ipam.static\n")
    assert "printf '%s' '{\"v\":1}\n'\n" in text and "\nexec /usr/bin/python3 -IS -c 'import sys\n" in text


# --- VERSION answered by sh ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_sh_answers_version_exactly_as_python_does(bins: tuple[str, str], name: str) -> None:
    with_b, _ = bins
    launcher = os.path.join(with_b, name)
    by_sh = run(launcher, {"CNI_COMMAND": "VERSION"}, b'{"cniVersion": "0.4.0"}')
    python, code = launcher_parts(launcher)
    by_python = subprocess.run([python, "-IS", "-c", code], env={**ENV, "CNI_COMMAND": "VERSION"},
                               input=b'{"cniVersion": "0.4.0"}', capture_output=True, timeout=60)
    assert (by_sh.returncode, by_sh.stdout, by_sh.stderr) == (by_python.returncode, by_python.stdout, b"")
    assert json.loads(by_sh.stdout)["supportedVersions"][-1] == "1.1.0"


def test_everything_else_reaches_python(bins: tuple[str, str], tmp_path: Path) -> None:
    with_b, _ = bins
    # no CNI_COMMAND: the about text; arguments (as `dhcp daemon` takes): never the VERSION shortcut
    p = run(os.path.join(with_b, "static"), {}, b"")
    assert p.returncode == 0 and p.stderr.startswith(b"CNI static plugin")
    p = subprocess.run([os.path.join(with_b, "dhcp"), "daemon", "-h"], env={**ENV, "CNI_COMMAND": "VERSION"},
                       capture_output=True, timeout=60)
    assert b"supportedVersions" not in p.stdout and b"socketpath" in p.stdout + p.stderr
