"""pycni.spec.version: the supported list, Go's ParseVersion/GreaterThanOrEqualTo, %q quoting."""

from __future__ import annotations

import pytest

from pycni.spec import version as V


def test_all_lists_every_spec_version_in_order_ending_with_current() -> None:
    assert V.ALL == ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
    assert V.CURRENT == "1.1.0" == V.ALL[-1]


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("", (0, 1, 0)),  # no version declared means 0.1.0
        ("1", (1, 0, 0)),
        ("1.0", (1, 0, 0)),
        ("0.4.0", (0, 4, 0)),
        ("1.1.0", (1, 1, 0)),
        ("+1.-2.003", (1, -2, 3)),  # strconv.Atoi takes a sign and leading zeros
    ],
)
def test_parse_accepts_what_strconv_atoi_accepts(text: str, parsed: tuple[int, int, int]) -> None:
    assert V.parse(text) == parsed


@pytest.mark.parametrize(
    "text, message",
    [
        ("adsfsadf", 'failed to convert major version part "adsfsadf": strconv.Atoi: parsing "adsfsadf": invalid syntax'),
        ("1.x", 'failed to convert minor version part "x": strconv.Atoi: parsing "x": invalid syntax'),
        ("1.0.", 'failed to convert micro version part "": strconv.Atoi: parsing "": invalid syntax'),
        ("1.0.0.0", 'invalid version "1.0.0.0": too many parts'),
        ("1. 0", 'failed to convert minor version part " 0": strconv.Atoi: parsing " 0": invalid syntax'),
        ("١.0.0", 'failed to convert major version part "١": strconv.Atoi: parsing "١": invalid syntax'),
        ("99999999999999999999.0.0", 'failed to convert major version part "99999999999999999999": '
                                     'strconv.Atoi: parsing "99999999999999999999": value out of range'),
    ],
)
def test_parse_errors_have_the_library_text(text: str, message: str) -> None:
    with pytest.raises(V.VersionError) as exc:
        V.parse(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "a, b, expected",
    [("0.4.0", "0.4.0", True), ("1.0.0", "0.4.0", True), ("0.3.1", "0.4.0", False), ("1.0", "1.0.0", True),
     ("", "0.1.0", True), ("", "0.2.0", False), ("0.10.0", "0.9.0", True), ("1.1.0", "1.1", True)],
)
def test_at_least_compares_numerically_not_as_strings(a: str, b: str, expected: bool) -> None:
    assert V.at_least(a, b) is expected


def test_at_least_raises_on_an_unparsable_side() -> None:
    with pytest.raises(V.VersionError):
        V.at_least("x", "1.0.0")


def test_go_quote_list_is_percent_q_of_a_string_slice() -> None:
    assert V.go_quote_list(["0.1.0", "1.0.0"]) == '["0.1.0" "1.0.0"]'
    assert V.go_quote_list([]) == "[]"


@pytest.mark.parametrize("s, quoted", [("a", '"a"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"'), ("a\nb", '"a\\nb"'),
                                       ("\x01", '"\\x01"'), ("é", '"é"'), ("\a\v\x7f", '"\\a\\v\\x7f"'),
                                       ("\x95", '"\\u0095"'), ("\xa0", '"\\u00a0"'), ("\u2028", '"\\u2028"'),
                                       ("\U000bdd5b", '"\\U000bdd5b"'), ("😀", '"😀"'),
                                       ("a\udcff", '"a\\xff"')])  # a non-UTF-8 byte from the environment
def test_go_quote_escapes_like_strconv_quote(s: str, quoted: str) -> None:
    assert V.go_quote(s) == quoted
