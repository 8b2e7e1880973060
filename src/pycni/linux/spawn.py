"""Run a helper program (iptables-restore, nft, ip ...) to completion: the lean replacement for subprocess.run.

posix_spawn from the `posix` module, stdin fed from and stdout/stderr captured in memfds (no pipes, so no
poll loop and no deadlock however much either side writes), exit status from waitpid. Must not import
subprocess, os, selectors, signal or threading: a plugin exec pays for every module it loads.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal itself would load enum
import posix
import time

from pycni.gofmt import exit_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Bench/test hook, set in-process (no environment variable is read): called with (argv, seconds, status)
# after every run. None on the hot path.
observer: Callable[[list[str], float, int], None] | None = None

_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Python ignores SIGPIPE (and SIGXFSZ); the child gets the default dispositions back, as subprocess does.
_SIGDEF = tuple(getattr(_signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, n))


class Completed:
    """A finished run: exit `status` (negative: killed by that signal), decoded stdout and stderr."""

    __slots__ = ("argv", "status", "stderr", "stdout")

    def __init__(self, argv: list[str], status: int, stdout: str, stderr: str) -> None:
        self.argv, self.status, self.stdout, self.stderr = argv, status, stdout, stderr

    def status_text(self) -> str:
        """Go's *exec.ExitError text: `exit status N` or `signal: <name>`."""
        return exit_text(self.status)


def lookpath(prog: str, env: Mapping[str, str] | None = None) -> str | None:
    """exec.LookPath: prog itself when it has a slash, else the first executable file on $PATH."""
    if "/" in prog:
        return prog if _is_exec(prog) else None
    path = (env.get("PATH") if env is not None else _env_path())
    for d in (path if path is not None else _DEFAULT_PATH).split(":"):
        cand = (d or ".") + "/" + prog
        if _is_exec(cand):
            return cand
    return None


def _env_path() -> str | None:
    v = posix.environ.get(b"PATH")
    return None if v is None else v.decode("utf-8", "surrogateescape")


def _is_exec(path: str) -> bool:
    try:
        st = posix.stat(path)
    except OSError:
        return False
    return (st.st_mode & 0o170000) == 0o100000 and posix.access(path, posix.X_OK)


def _memfd(name: str) -> int:
    return posix.memfd_create(name, posix.MFD_CLOEXEC)


def _read_all(fd: int) -> bytes:
    posix.lseek(fd, 0, 0)
    chunks: list[bytes] = []
    while True:
        b = posix.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def run(argv: list[str], stdin: str | bytes | None = None, env: Mapping[str, str] | None = None) -> Completed:
    """Spawn argv[0] (a path, or a name looked up on $PATH) and wait for it.

    Raises OSError (errno ENOENT for a missing program) when it cannot be started; a non-zero exit is
    not an exception: look at .status.
    """
    status, out, err = run_bytes(argv, stdin, env)
    return Completed(argv, status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def run_bytes(argv: list[str], stdin: str | bytes | None = None,
              env: Mapping[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """`run` with the output as the program wrote it: (status, stdout, stderr)."""
    # A path is spawned as given, so the kernel's own errno (EACCES, ENOEXEC, ETXTBSY) reaches the caller.
    path = argv[0] if "/" in argv[0] else lookpath(argv[0], env)
    if path is None:
        raise FileNotFoundError(2, "executable file not found in $PATH", argv[0])
    t0 = time.perf_counter() if observer is not None else 0.0
    out, err = _memfd("stdout"), _memfd("stderr")
    fds = [out, err]
    try:
        actions: list[tuple[int, int, str, int, int] | tuple[int, int, int]] = []
        if stdin is None:
            actions.append((posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0))
        else:
            inp = _memfd("stdin")
            fds.append(inp)
            data = stdin.encode() if isinstance(stdin, str) else stdin
            view = memoryview(data)
            while view:
                view = view[posix.write(inp, view):]
            posix.lseek(inp, 0, 0)
            actions.append((posix.POSIX_SPAWN_DUP2, inp, 0))
        actions += [(posix.POSIX_SPAWN_DUP2, out, 1), (posix.POSIX_SPAWN_DUP2, err, 2)]
        pid = posix.posix_spawn(path, argv, posix.environ if env is None else env, file_actions=actions,
                                setsigdef=_SIGDEF)
        _, wst = posix.waitpid(pid, 0)  # EINTR is retried by Python (PEP 475)
        status = posix.waitstatus_to_exitcode(wst)
        done = (status, _read_all(out), _read_all(err))
    finally:
        for fd in fds:
            posix.close(fd)
    if observer is not None:
        observer(argv, time.perf_counter() - t0, status)
    return done
