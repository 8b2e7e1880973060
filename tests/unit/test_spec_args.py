"""pycni.spec.args: CNI_ARGS with types.LoadArgs' rules (cni-spec-checklist 1.18, E18)."""

from __future__ import annotations

import pytest

from pycni.spec.args import ArgsError, parse_bool, parse_cni_args

FIELDS = ("IP", "GATEWAY")


@pytest.mark.parametrize(
    "args, parsed",
    [
        ("", {}),
        ("IgnoreUnknown=1;FOO=bar", {}),  # E18: unknown keys tolerated
        ("FOO=bar;IgnoreUnknown=true", {}),  # position of IgnoreUnknown does not matter
        ("IgnoreUnknown=TRUE;X=1", {}),  # the value is lower-cased
        ("IgnoreUnknown=True;IP=10.0.0.2/24", {"IP": "10.0.0.2/24"}),
        ("IP=10.0.0.2/24;GATEWAY=10.0.0.1", {"IP": "10.0.0.2/24", "GATEWAY": "10.0.0.1"}),
        ("IP=", {"IP": ""}),  # an empty value is an empty string
        ("IP=1.2.3.4/24;IP=5.6.7.8/24", {"IP": "5.6.7.8/24"}),  # a later pair wins
        ("IP= spaced ", {"IP": " spaced "}),  # nothing is trimmed here
        ("IgnoreUnknown=0", {}),
    ],
)
def test_accepted_cni_args(args: str, parsed: dict[str, str]) -> None:
    assert parse_cni_args(args, FIELDS) == parsed


@pytest.mark.parametrize(
    "args, message",
    [
        ("FOO=bar", 'ARGS: unknown args ["FOO=bar"]'),  # E18
        ("IP=10.0.0.2;", 'ARGS: invalid pair ""'),  # E18: a trailing ';' is an empty pair
        ("K=a=b", 'ARGS: invalid pair "K=a=b"'),  # E18: a value may not contain '='
        ("ignoreunknown=1;FOO=bar", 'ARGS: unknown args ["ignoreunknown=1" "FOO=bar"]'),  # E18: case-sensitive
        ("IgnoreUnknown=yes", 'ARGS: error parsing value of pair "IgnoreUnknown=yes": '
                              "boolean unmarshal error: invalid input yes"),  # E18
        ("IgnoreUnknown=YES", 'ARGS: error parsing value of pair "IgnoreUnknown=YES": '
                              "boolean unmarshal error: invalid input yes"),
        ("IP", 'ARGS: invalid pair "IP"'),  # a bare key
        (";", 'ARGS: invalid pair ""'),
        ("ip=10.0.0.2/24", 'ARGS: unknown args ["ip=10.0.0.2/24"]'),  # Go field names, not JSON tags
        ("IgnoreUnknown=0;A=1;B=2", 'ARGS: unknown args ["A=1" "B=2"]'),
        ("IgnoreUnknown=1;IgnoreUnknown=0;A=1", 'ARGS: unknown args ["A=1"]'),  # the last IgnoreUnknown wins
        ("A=1;K=a=b", 'ARGS: invalid pair "K=a=b"'),  # a bad pair beats unknown keys seen before it
        ("CommonArgs=1", "ARGS: cannot unmarshal into field 'CommonArgs' - type '*types.CommonArgs' "
                         "does not implement encoding.TextUnmarshaler"),
        ('A="x"', 'ARGS: unknown args ["A=\\"x\\""]'),
    ],
)
def test_rejected_cni_args_have_the_library_text(args: str, message: str) -> None:
    with pytest.raises(ArgsError) as exc:
        parse_cni_args(args, FIELDS)
    assert str(exc.value) == message


def test_args_error_is_a_value_error_so_plugins_report_code_999() -> None:
    assert issubclass(ArgsError, ValueError)


def test_only_the_declared_fields_are_known() -> None:
    # host-local knows IP but not GATEWAY
    with pytest.raises(ArgsError, match=r'unknown args \["GATEWAY=10.0.0.1"\]'):
        parse_cni_args("GATEWAY=10.0.0.1", ("IP",))


@pytest.mark.parametrize("text, value", [("1", True), ("true", True), ("TRUE", True), ("True", True),
                                         ("0", False), ("false", False), ("FaLsE", False)])
def test_unmarshallable_bool_values(text: str, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["yes", "no", "", "2", "t", " 1"])
def test_unmarshallable_bool_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match=f"^boolean unmarshal error: invalid input {text.lower()}$"):
        parse_bool(text)
