"""host-local's resolv.conf parser (upstream dns_test.go plus the edges of dns.go)."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.host_local.dns import parse_resolv_conf, parse_resolv_conf_text


def parse(tmp_path, text: str):
    p = tmp_path / "resolv.conf"
    p.write_bytes(text.encode())
    return parse_resolv_conf(str(p))


def test_nameservers_with_blank_and_indented_lines(tmp_path):  # D1
    assert parse(tmp_path, "\n\t\tnameserver 192.0.2.0\n\t\tnameserver 192.0.2.1\n\t\t\n") == {
        "nameservers": ["192.0.2.0", "192.0.2.1"]}


def test_semicolon_comment(tmp_path):  # D2
    assert parse(tmp_path, "nameserver 192.0.2.0\n;nameserver 192.0.2.1\n") == {"nameservers": ["192.0.2.0"]}


def test_everything(tmp_path):  # D3
    text = """nameserver 192.0.2.0
domain example.com
;nameserver comment
#nameserver comment
nameserver 192.0.2.2
search example.net example.org
search example.gov
options one two three
options four
"""
    assert parse(tmp_path, text) == {
        "nameservers": ["192.0.2.0", "192.0.2.2"],
        "domain": "example.com",
        "search": ["example.net", "example.org", "example.gov"],
        "options": ["one", "two", "three", "four"],
    }


def test_last_domain_wins_first_nameserver_argument_only_and_unknown_keywords():
    text = b"domain a.example\ndomain b.example\nnameserver 192.0.2.9 extra\nsortlist 1.2.3.4\nnameserver\r\n"
    assert parse_resolv_conf_text(text) == {"domain": "b.example", "nameservers": ["192.0.2.9"]}


def test_no_trailing_newline_and_crlf():
    assert parse_resolv_conf_text(b"nameserver 192.0.2.3") == {"nameservers": ["192.0.2.3"]}
    assert parse_resolv_conf_text(b"nameserver 192.0.2.3\r\nsearch a b\r\n") == {
        "nameservers": ["192.0.2.3"], "search": ["a", "b"]}


def test_line_over_64k_fails_like_bufio_scanner():
    assert parse_resolv_conf_text(b"#" + b"x" * 65534 + b"\n")  == {}
    with pytest.raises(ValueError, match="^bufio.Scanner: token too long$"):
        parse_resolv_conf_text(b"#" + b"x" * 65535 + b"\n")


def test_missing_file_error_reads_like_go(tmp_path):
    with pytest.raises(ValueError) as e:
        parse_resolv_conf(str(tmp_path / "nope"))
    assert str(e.value) == f"open {tmp_path}/nope: no such file or directory"


def test_directory_error_reads_like_go(tmp_path):
    with pytest.raises(ValueError) as e:
        parse_resolv_conf(str(tmp_path))
    assert str(e.value) == f"read {tmp_path}: is a directory"
