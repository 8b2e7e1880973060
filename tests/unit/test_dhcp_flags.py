"""`dhcp daemon` command line: Go flag syntax, Go durations, Go's usage and error texts (no root needed)."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.dhcp import daemon
from pycni.plugins.ipam.dhcp import flags as F


def parse(*argv: str) -> dict:
    return F.parse(daemon.FLAGS, list(argv))[0]


def test_defaults_match_head() -> None:
    v = parse()
    assert v == {"pidfile": "", "hostprefix": "", "socketpath": "", "broadcast": False, "timeout": 10.0,
                 "resendmax": 62.0, "resendtimeout": 208.0, "statedir": daemon.DEFAULT_STATE_DIR}


@pytest.mark.parametrize("argv", [
    ["-socketpath", "/x.sock"], ["-socketpath=/x.sock"], ["--socketpath", "/x.sock"], ["--socketpath=/x.sock"],
])
def test_go_flag_spellings(argv: list[str]) -> None:
    assert parse(*argv)["socketpath"] == "/x.sock"


def test_bool_and_duration_values() -> None:
    v = parse("-broadcast", "-timeout", "2s", "--resendmax=1m2.5s", "-resendtimeout=1h")
    assert v["broadcast"] is True
    assert (v["timeout"], v["resendmax"], v["resendtimeout"]) == (2.0, 62.5, 3600.0)
    assert parse("-broadcast=false")["broadcast"] is False
    assert parse("-broadcast=T")["broadcast"] is True


def test_flags_stop_at_first_non_flag_and_double_dash() -> None:
    assert F.parse(daemon.FLAGS, ["-broadcast", "x", "-timeout", "1s"]) == (
        {**parse(), "broadcast": True}, ["x", "-timeout", "1s"])
    assert F.parse(daemon.FLAGS, ["--", "-broadcast"])[1] == ["-broadcast"]


@pytest.mark.parametrize(("argv", "text"), [
    (["-nope"], "flag provided but not defined: -nope"),
    (["-timeout"], "flag needs an argument: -timeout"),
    (["-timeout", "10"], 'invalid value "10" for flag -timeout: parse error'),
    (["-broadcast=maybe"], 'invalid boolean value "maybe" for -broadcast: parse error'),
    (["---x"], "bad flag syntax: ---x"),
    (["-=x"], "bad flag syntax: -=x"),
])
def test_errors_worded_as_go(argv: list[str], text: str) -> None:
    with pytest.raises(F.FlagError) as e:
        parse(*argv)
    assert str(e.value) == text


def test_help() -> None:
    for h in ("-h", "-help", "--help"):
        with pytest.raises(F.HelpRequested):
            parse(h)


def test_usage_matches_go_for_upstream_flags() -> None:
    # `/usr/lib/cni/dhcp daemon -h` (Debian 1.1.1), line for line; ours adds -resendtimeout and -statedir.
    go = (
        "Usage of daemon:\n"
        "  -broadcast\n    \tbroadcast DHCP leases\n"
        "  -hostprefix string\n    \toptional prefix to host root\n"
        "  -pidfile string\n    \toptional path to write daemon PID to\n"
        "  -resendmax duration\n    \toptional dhcp client resend max duration (default 1m2s)\n"
        "  -socketpath string\n    \toptional dhcp server socketpath\n"
        "  -timeout duration\n    \toptional dhcp client timeout duration (default 10s)\n"
    )
    ours = F.usage("daemon", [f for f in daemon.FLAGS if f.name not in ("resendtimeout", "statedir")])
    assert ours == go
    assert "  -resendtimeout duration\n    \toptional dhcp client resend timeout duration (default 3m28s)\n" in \
        F.usage("daemon", daemon.FLAGS)


@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10.0), ("1m2s", 62.0), ("1.5h", 5400.0), ("300ms", 0.3), ("-2s", -2.0), ("0", 0.0), ("1h2m3s4ms", 3723.004),
    ("2us", 2e-6), ("2\u00b5s", 2e-6), ("+5m", 300.0), (".5s", 0.5), ("5.s", 5.0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert F.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "err"), [
    ("", 'time: invalid duration ""'), ("1", 'time: missing unit in duration "1"'),
    ("1x", 'time: unknown unit "x" in duration "1x"'), (".s", 'time: invalid duration ".s"'),
    ("s", 'time: invalid duration "s"'), ("-", 'time: invalid duration "-"'),
])
def test_parse_duration_errors(text: str, err: str) -> None:
    with pytest.raises(ValueError) as e:
        F.parse_duration(text)
    assert str(e.value) == err


@pytest.mark.parametrize(("seconds", "text"), [
    (10.0, "10s"), (62.0, "1m2s"), (208.0, "3m28s"), (3600.0, "1h0m0s"), (0.0, "0s"), (0.3, "300ms"), (1.5, "1.5s"),
    (2e-6, "2\u00b5s"), (-90.0, "-1m30s"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert F.format_duration(seconds) == text


def test_main_help_and_bad_flag_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert daemon.main(["-h"]) == 0
    assert capsys.readouterr().err.startswith("Usage of daemon:\n")
    assert daemon.main(["-bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flag provided but not defined: -bogus\nUsage of daemon:\n")


def test_main_relative_pidfile_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert daemon.main(["-pidfile", "rel.pid"]) == 1
    assert capsys.readouterr().err.endswith('Error writing pidfile "rel.pid": path not absolute\n')
