"""gofmt is the one home of Go's texts: these pin them to what the reference binaries print."""

from __future__ import annotations

import errno

import pytest

from pycni import gofmt


@pytest.mark.parametrize("s, text", [
    ("eth0", '"eth0"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("/var/run/netns/x\x01y", '"/var/run/netns/x\\x01y"'),  # control characters are escaped, as Go's %q
    ("tab\there\n", '"tab\\there\\n"'),
    ("\x7f", '"\\x7f"'),
    ("é", '"é"'),
    ("\u200b", '"\\u200b"'),
    ("bad\udcffbyte", '"bad\\xffbyte"'),  # a non-UTF-8 byte read with surrogateescape
])
def test_q_is_gos_percent_q(s: str, text: str) -> None:
    assert gofmt.q(s) == text


def test_q_list_and_v_list() -> None:
    assert gofmt.q_list(["0.1.0", "1.1.0"]) == '["0.1.0" "1.1.0"]'
    assert gofmt.v_list([1, "a"]) == "[1 a]"


@pytest.mark.parametrize("err, text", [
    (errno.ENOENT, "no such file or directory"),
    (errno.EEXIST, "file exists"),
    (errno.EIO, "input/output error"),
    (errno.EDOTDOT, "RFS specific error"),  # Go keeps the capitals of an acronym
    (errno.EPERM, "operation not permitted"),
])
def test_errno_text_lowers_the_first_letter_as_go(err: int, text: str) -> None:
    assert gofmt.errno_text(err) == text
    assert gofmt.errno_text(OSError(err, "ignored")) == text


def test_path_error() -> None:
    assert gofmt.path_error("open", "/x", errno.ENOENT) == "open /x: no such file or directory"


@pytest.mark.parametrize("f, text", [(1.0, "1"), (1e21, "1e+21"), (1.5e-7, "1.5e-7"), (-0.0, "-0"),
                                     (123456789012345678.0, "123456789012345680")])
def test_float_text(f: float, text: str) -> None:
    assert gofmt.float_text(f) == text


def test_ipnet_text_and_mask() -> None:
    assert gofmt.ipnet_text("10.99.0.0", 16) == "{10.99.0.0 ffff0000}"
    assert gofmt.ipnet_text("fd00::", 64) == "{fd00:: ffffffffffffffff0000000000000000}"


def test_sprintf_verbs() -> None:
    assert gofmt.sprintf("failed to lookup %q: %v %d%% %t", "eth\x01", None, 5, True) == \
        'failed to lookup "eth\\x01": <nil> 5% true'
    assert gofmt.bool_text(False) == "false"


@pytest.mark.parametrize("parts, path", [
    (("/var/lib/cni", "networks", "n"), "/var/lib/cni/networks/n"),
    (("a", "", "../b"), "b"),
    (("/", "..", "x/./y/"), "/x/y"),
    (("",), ""),
])
def test_join_path_is_filepath_join(parts: tuple[str, ...], path: str) -> None:
    assert gofmt.join_path(*parts) == path


def test_clean_path() -> None:
    assert gofmt.clean_path("") == "."
    assert gofmt.clean_path("a/../..") == ".."
    assert gofmt.clean_path("//a//b/") == "/a/b"


def test_log_line_has_gos_default_prefix() -> None:
    line = gofmt.log_line("hello", 0.0)
    assert line.endswith(" hello\n") and line[4] == "/" and line[7] == "/" and line[10] == " "


def test_wrap_turns_a_kernel_error_into_upstreams_text() -> None:
    from pycni.netlink.socket import NetlinkError, wrap

    with pytest.raises(ValueError, match='^failed to lookup "eth0": no such device$'):
        with wrap("failed to lookup %q", "eth0"):
            raise NetlinkError(errno.ENODEV)
    with pytest.raises(KeyError):  # anything else passes through untouched
        with wrap("failed to lookup %q", "eth0"):
            raise KeyError("x")


@pytest.mark.parametrize(("status", "text"), [
    (0, "exit status 0"), (3, "exit status 3"), (-9, "signal: killed"), (-15, "signal: terminated"),
    (-11, "signal: segmentation fault"), (-10, "signal: user defined signal 1"), (-13, "signal: broken pipe"),
])
def test_exit_text_is_go_exit_error(status: int, text: str) -> None:
    assert gofmt.exit_text(status) == text
