"""Tiny fake CNI plugins for the runtime tests (test_runtime_api, test_runtime_cli); helpers only, no tests.

`FakePlugins(dir)` writes executables named as asked. Each one appends a JSON line to a log
(its name, the CNI_* environment and its stdin) and then does what its control file says for
that plugin and command (exit status, stdout, stderr), else its default: VERSION answers with
the supported versions; ADD passes prevResult on with one more interface named after itself
(or makes a fresh result with one IP); every other command succeeds silently.
"""

from __future__ import annotations

import json
import os
import sys

_SCRIPT = r'''#!{python} -S
import json, os, sys
name = os.path.basename(sys.argv[0])
cmd = os.environ.get("CNI_COMMAND", "")
data = sys.stdin.read() if cmd != "VERSION" else ""
log = os.environ.get("FAKE_LOG")
keep = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH", "FAKE_MARK")
if log:
    with open(log, "a") as f:
        f.write(json.dumps({{"plugin": name, "cmd": cmd, "env": {{k: os.environ[k] for k in keep if k in os.environ}},
                            "stdin": data}}) + "\n")
ctl = {{}}
if os.environ.get("FAKE_CTL") and os.path.exists(os.environ["FAKE_CTL"]):
    with open(os.environ["FAKE_CTL"]) as f:
        ctl = json.load(f).get(name, {{}}).get(cmd)
if ctl:
    sys.stdout.write(ctl.get("stdout", ""))
    sys.stderr.write(ctl.get("stderr", ""))
    sys.exit(ctl.get("exit", 0))
if cmd == "VERSION":
    print(json.dumps({{"cniVersion": "1.1.0", "supportedVersions": {versions}}}))
elif cmd == "ADD":
    conf = json.loads(data)
    prev = conf.get("prevResult")
    if prev is None:
        res = {{"cniVersion": conf.get("cniVersion", ""), "interfaces": [{{"name": name}}],
               "ips": [{{"address": "10.99.0.2/24", "gateway": "10.99.0.1", "interface": 0}}]}}
    else:
        res = dict(prev)
        res["interfaces"] = list(prev.get("interfaces", [])) + [{{"name": name}}]
    print(json.dumps(res))
'''

VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


class FakePlugins:
    def __init__(self, directory: str) -> None:
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "calls.log")
        self.ctl_path = os.path.join(self.dir, "ctl.json")
        self._ctl: dict[str, dict[str, dict[str, object]]] = {}

    def add(self, *names: str, versions: list[str] | None = None) -> FakePlugins:
        for name in names:
            path = os.path.join(self.dir, name)
            with open(path, "w") as f:
                f.write(_SCRIPT.format(python=sys.executable, versions=json.dumps(versions or VERSIONS)))
            os.chmod(path, 0o755)
        return self

    def control(self, name: str, cmd: str, exit: int = 0, stdout: str = "", stderr: str = "") -> None:
        self._ctl.setdefault(name, {})[cmd] = {"exit": exit, "stdout": stdout, "stderr": stderr}
        with open(self.ctl_path, "w") as f:
            json.dump(self._ctl, f)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["FAKE_LOG"] = self.log
        env["FAKE_CTL"] = self.ctl_path
        env.update(extra)
        return env

    def calls(self) -> list[dict]:
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            out = [json.loads(line) for line in f if line.strip()]
        for c in out:
            c["conf"] = json.loads(c["stdin"]) if c["stdin"] else None
        return out

    def clear(self) -> None:
        if os.path.exists(self.log):
            os.unlink(self.log)


def write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path
