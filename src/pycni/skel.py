"""The plugin side of the CNI protocol: environment + stdin in, result or error JSON out.

`run()` is the dispatcher, pure apart from an injected netns probe: it takes the environment
and the stdin bytes and returns an Outcome (result or CNIError). `main()` is the only place that
reads the process environment and stdin and writes stdout / the exit status. The order of
checks and every message follow the reference library's skel (HEAD), so runtimes see the same
codes. In-process IPAM delegation calls `run()` directly and skips the JSON round trip.
"""

from __future__ import annotations

import posix  # built in and already loaded: `os` would cost a millisecond of start-up
import sys

from pycni import __version__
from pycni.gofmt import errno_text, q, q_list
from pycni.spec import errors as E
from pycni.spec.errors import CNIError
from pycni.spec.version import ALL, VersionError, at_least

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from pycni.spec.result import Result

    Handler = Callable[["CmdArgs"], Any]


class Plugin:
    """A plugin's declaration: its name, versions, and where its command handlers live.

    `impl` names the implementation module (imported only once a command needs it, so VERSION
    stays cheap) or is an object with the handlers. Handlers are `cmd_add`, `cmd_del` and, when
    the plugin has them, `cmd_check`, `cmd_gc`, `cmd_status`. A module without `cmd_gc` /
    `cmd_status` gets the default: forward the call to the config's IPAM plugin, if any (what
    upstream's interface plugins do; the config is decoded by the module's `load_conf` when it
    has one). A module that sets them to None does nothing for them.
    `commands` maps an argv[1] word to "module:function" for plugins with a second role
    (`dhcp daemon`). `by_command` names another implementation module for one CNI command, for a
    command that needs far less than the others (ptp's DEL does not pay for ADD's imports).
    """

    __slots__ = ("name", "about", "versions", "commands", "by_command", "_impl", "_module")

    def __init__(self, name: str, impl: str | object, versions: tuple[str, ...] = ALL, about: str = "",
                 commands: dict[str, str] | None = None, by_command: dict[str, str] | None = None) -> None:
        self.name = name
        self.versions = versions
        self.about = about or f"CNI {name} plugin pycni {__version__}"
        self.commands = commands or {}
        self.by_command = by_command or {}
        self._impl = impl
        self._module: Any = None

    def handler(self, cmd: str) -> Handler | None:
        """The handler for CNI command `cmd` (ADD, DEL, CHECK, GC, STATUS), or None."""
        mod: Any
        if cmd in self.by_command:
            mod = __import__(self.by_command[cmd], fromlist=["_"])
        else:
            mod = self._module
            if mod is None:
                impl = self._impl
                mod = self._module = __import__(impl, fromlist=["_"]) if isinstance(impl, str) else impl
        attr = _HANDLERS[cmd]
        if hasattr(mod, attr):
            return getattr(mod, attr)
        if cmd in ("GC", "STATUS"):
            # By name, as the implementation: only GC/STATUS of a forwarding plugin pay for it
            # (the bundle builder adds it to the plugins that need it).
            forward = __import__("pycni.plugins.shared.forward", fromlist=["_"])
            return forward.default_handler(cmd, mod)
        return None


_HANDLERS = {"ADD": "cmd_add", "DEL": "cmd_del", "CHECK": "cmd_check", "GC": "cmd_gc", "STATUS": "cmd_status"}


class CmdArgs:
    """One invocation's parameters, as the reference's skel.CmdArgs, plus the env for delegation."""

    __slots__ = ("command", "container_id", "netns", "ifname", "args", "path", "stdin", "env", "_conf")

    def __init__(self, command: str, container_id: str, netns: str, ifname: str, args: str, path: str,
                 stdin: bytes, env: Mapping[str, str], conf: Any) -> None:
        self.command = command
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.path = path
        self.stdin = stdin
        self.env = env
        self._conf = conf

    @property
    def conf(self) -> Any:
        """The stdin JSON, already parsed once by the dispatcher."""
        return self._conf


class Outcome:
    """The dispatcher's answer: an ADD result (already in the config's version), or an error."""

    __slots__ = ("result", "error", "stderr", "printed_result")

    def __init__(self, result: Result | None = None, error: CNIError | None = None,
                 stderr: str = "", printed_result: bool = False) -> None:
        self.result = result
        self.error = error
        self.stderr = stderr
        self.printed_result = printed_result

    @property
    def exit_code(self) -> int:
        return 1 if self.error is not None else 0

    def stdout(self) -> str:
        from pycni.spec import gojson  # lazy: VERSION prints without the JSON codec

        out = ""
        if self.result is not None:
            from pycni.spec.result import to_json_obj  # lazy: only an ADD result needs it

            out = gojson.dumps(to_json_obj(self.result))
        if self.error is not None:
            out += gojson.dumps(self.error.to_json())
        return out


_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_FIRST_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NOT_GO_SPACE = frozenset("\x1c\x1d\x1e\x1f")  # Python calls these whitespace; Go does not


def valid_name(s: str) -> bool:
    """^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$ (container IDs and network names)."""
    return bool(s) and s[0] in _FIRST_OK and all(c in _NAME_OK for c in s)


def validate_container_id(cid: str) -> None:
    if cid == "":
        raise CNIError(E.UNKNOWN_CONTAINER, "missing containerID")
    if not valid_name(cid):
        raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES, "invalid characters in containerID", cid)


def validate_ifname(name: str) -> None:
    if name == "":
        raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES, "interface name is empty")
    if len(name.encode("utf-8", "surrogateescape")) > 15:
        raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES, "interface name is too long",
                       "interface name should be less than 16 characters")
    if name in (".", ".."):
        raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES, "interface name is . or ..")
    for ch in name:
        if ch in "/:" or (ch.isspace() and ch not in _NOT_GO_SPACE):
            raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES,
                           "interface name contains / or : or whitespace characters")


# (variable, commands that require it, validator)
_VARS: tuple[tuple[str, frozenset[str], Any], ...] = (
    ("CNI_COMMAND", frozenset(("ADD", "CHECK", "DEL", "GC", "STATUS")), None),
    ("CNI_CONTAINERID", frozenset(("ADD", "CHECK", "DEL")), validate_container_id),
    ("CNI_NETNS", frozenset(("ADD", "CHECK")), None),
    ("CNI_IFNAME", frozenset(("ADD", "CHECK", "DEL")), validate_ifname),
    ("CNI_ARGS", frozenset(), None),
    ("CNI_PATH", frozenset(("ADD", "CHECK", "DEL", "GC", "STATUS")), None),
)


def decode_config_version(conf: Any) -> str:
    """The library's DecodeVersion on an already-parsed config: "" or absent means 0.1.0."""
    from pycni.spec.godecode import STRING, DecodeError, Struct, decode_struct  # lazy: not on VERSION

    try:
        d = decode_struct(conf, Struct("", [("cniVersion", STRING)]))
    except DecodeError as exc:
        raise CNIError(E.DECODING_FAILURE, f"decoding version from network config: {exc}") from None
    return d.get("cniVersion") or "0.1.0"


def _parse_stdin(stdin: bytes) -> Any:
    from pycni.spec import gojson  # lazy: VERSION never reads stdin
    from pycni.spec.godecode import (
        STRING,
        DecodeError,
        Struct,
        decode_struct,
        json_kind,
    )

    try:
        conf = gojson.loads(stdin)
        if conf is None:  # JSON null leaves Go's struct empty
            conf = {}
        if not isinstance(conf, dict):
            raise DecodeError(f"json: cannot unmarshal {json_kind(conf)} into Go value of type "
                              'struct { Name string "json:\\"name\\"" }')
        name = decode_struct(conf, Struct("", [("name", STRING)])).get("name", "")
    except (gojson.JSONSyntaxError, DecodeError) as exc:
        raise CNIError(E.DECODING_FAILURE, f"error unmarshall network config: {exc}") from None
    if name == "":
        raise CNIError(E.INVALID_NETWORK_CONFIG, "missing network name")
    if not valid_name(name):
        raise CNIError(E.INVALID_NETWORK_CONFIG, "invalid characters found in network name", name)
    return conf


def _version_gate(conf: Any, minimum: str, cmd: str, versions: tuple[str, ...]) -> None:
    cfg = decode_config_version(conf)
    try:
        if not at_least(cfg, minimum):
            raise CNIError(E.INCOMPATIBLE_CNI_VERSION, f"config version does not allow {cmd}")
        if not any(at_least(v, cfg) for v in versions):
            raise CNIError(E.INCOMPATIBLE_CNI_VERSION, f"plugin version does not allow {cmd}")
    except VersionError as exc:
        raise CNIError(E.DECODING_FAILURE, str(exc)) from None


def _reconcile(conf: Any, versions: tuple[str, ...]) -> str:
    cfg = decode_config_version(conf)
    if cfg not in versions:
        raise CNIError(E.INCOMPATIBLE_CNI_VERSION, "incompatible CNI versions",
                       f"config is {q(cfg)}, plugin supports {q_list(versions)}")
    return cfg


def version_reply(versions: tuple[str, ...]) -> str:
    # The versions are fixed ASCII strings: no JSON encoder needed on this path.
    listed = ",".join(f'"{v}"' for v in versions)
    return f'{{"cniVersion":"1.1.0","supportedVersions":[{listed}]}}\n'


def run(plugin: Plugin, env: Mapping[str, str], stdin: bytes | Callable[[], bytes],
        same_netns: Callable[[str], bool] | None = None) -> Outcome:
    """Dispatch one call. `stdin` may be a callable so VERSION never reads it."""
    try:
        return _run(plugin, env, stdin, same_netns)
    except CNIError as exc:
        return Outcome(error=exc)


def _run(plugin: Plugin, env: Mapping[str, str], stdin: bytes | Callable[[], bytes],
         same_netns: Callable[[str], bool] | None) -> Outcome:
    cmd = env.get("CNI_COMMAND", "")
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, required_for, validate in _VARS:
        val = env.get(name, "")
        values[name] = val
        if val == "":
            if cmd in required_for or name == "CNI_COMMAND":
                missing.append(name)
        elif validate is not None and cmd in required_for:
            validate(val)
    if missing:
        if cmd == "" and plugin.about:
            about = f"{plugin.about}\nCNI protocol versions supported: {', '.join(plugin.versions)}\n"
            return Outcome(stderr=about)
        raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES, f"required env variables [{','.join(missing)}] missing")

    if cmd == "VERSION":
        return _VersionOutcome(plugin)

    try:
        data = stdin() if callable(stdin) else stdin
    except OSError as exc:
        raise CNIError(E.IO_FAILURE, f"error reading from stdin: {exc}") from None
    conf = _parse_stdin(data)
    args = CmdArgs(cmd, values["CNI_CONTAINERID"], values["CNI_NETNS"], values["CNI_IFNAME"],
                   values["CNI_ARGS"], values["CNI_PATH"], data, env, conf)

    if cmd == "ADD":
        cfg = _reconcile(conf, plugin.versions)
        result = _call(plugin.handler("ADD"), args)
        out = None
        if result is not None:
            from pycni.spec.result import ResultError, convert  # lazy: only an ADD result needs it

            try:
                out = convert(result, cfg)
            except ResultError as exc:
                raise CNIError(E.INTERNAL, str(exc)) from None
        outcome = Outcome(result=out)
        _netns_check(values, env, same_netns, outcome)
        return outcome
    if cmd == "DEL":
        _reconcile(conf, plugin.versions)
        _call(plugin.handler("DEL"), args)
        outcome = Outcome()
        _netns_check(values, env, same_netns, outcome)
        return outcome
    if cmd in ("CHECK", "GC", "STATUS"):
        minimum = "0.4.0" if cmd == "CHECK" else "1.1.0"
        _version_gate(conf, minimum, cmd, plugin.versions)
        _reconcile(conf, plugin.versions)
        _call(plugin.handler(cmd), args)
        return Outcome()
    raise CNIError(E.INVALID_ENVIRONMENT_VARIABLES, f"unknown CNI_COMMAND: {cmd}")


class _VersionOutcome(Outcome):
    __slots__ = ("_text",)

    def __init__(self, plugin: Plugin) -> None:
        super().__init__()
        self._text = version_reply(plugin.versions)

    def stdout(self) -> str:
        return self._text


def _call(handler: Handler | None, args: CmdArgs) -> Any:
    if handler is None:
        return None
    try:
        return handler(args)
    except CNIError:
        raise
    except (ValueError, OSError) as exc:
        # Plugin-logic failures that were not given a code: the reference wraps them in 999.
        raise CNIError(E.INTERNAL, str(exc)) from None
    except Exception as exc:  # a bug (a LookupError too: a mistyped key): still a CNI error on stdout
        import traceback  # lazy: only a bug pays for it; the trace goes to stderr, never to stdout

        sys.stderr.write(f"pycni: internal error in {handler.__qualname__}:\n{traceback.format_exc()}")
        raise CNIError(E.INTERNAL, f"{type(exc).__name__}: {exc}") from None


def _netns_check(values: dict[str, str], env: Mapping[str, str], same_netns: Callable[[str], bool] | None,
                 outcome: Outcome) -> None:
    override = env.get("CNI_NETNS_OVERRIDE", "")
    if override.upper() == "TRUE" or override == "1" or same_netns is None:
        return
    if same_netns(values["CNI_NETNS"]):
        outcome.error = CNIError(E.INVALID_NETNS, "plugin's netns and netns from CNI_NETNS should not be the same")


def same_netns(path: str) -> bool:
    # An unopenable path is not an error here (as the reference): only a real match counts.
    if not path:
        return False
    try:
        a = posix.stat(path)
        b = posix.stat("/proc/self/ns/net")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_stdin() -> bytes:
    # Go reports a failed read as "read /dev/stdin: <errno text>" (code 5).
    try:
        if sys.stdin is None:  # fd 0 was closed
            raise OSError(9, "Bad file descriptor")
        return sys.stdin.buffer.read()
    except OSError as exc:
        raise OSError(f"read /dev/stdin: {errno_text(exc)}") from None


def environ() -> dict[str, str]:
    """The process environment decoded as os.environ does (UTF-8, surrogateescape)."""
    return {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
            for k, v in posix.environ.items()}


def main(plugin: Plugin) -> None:
    """Entry point of a plugin executable."""
    if len(sys.argv) > 1 and sys.argv[1] in plugin.commands:
        module, _, func = plugin.commands[sys.argv[1]].partition(":")
        sys.exit(getattr(__import__(module, fromlist=["_"]), func)(sys.argv[2:]))
    try:
        outcome = run(plugin, environ(), _read_stdin, same_netns)
        text = outcome.stdout()
    except Exception as exc:  # last line of defence: never a traceback on stdout
        outcome = Outcome(error=CNIError(E.INTERNAL, f"{type(exc).__name__}: {exc}"))
        text = outcome.stdout()
    try:
        if outcome.stderr and sys.stderr is not None:
            sys.stderr.write(outcome.stderr)
            sys.stderr.flush()
        if text and sys.stdout is not None:
            sys.stdout.buffer.write(text.encode("utf-8", "replace"))
            sys.stdout.flush()
    except OSError:
        pass  # nobody is reading (EPIPE): the exit status still tells
    sys.exit(outcome.exit_code)
