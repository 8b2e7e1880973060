"""plugins.shared.prev_result's DEL helpers: a DEL decodes its config without a prevResult it does not need, or
without one it cannot read, so a runtime can always finish a teardown (issue 13 item 4)."""

from __future__ import annotations

from pycni.plugins.shared.prev_result import load_prev_result, usable_prev_result, without_prev_result

GOOD = {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24"}]}


def test_without_prev_result_drops_every_spelling_and_keeps_the_rest() -> None:
    conf = {"cniVersion": "1.0.0", "name": "n", "prevResult": GOOD, "PrevResult": 1, "prevresult": None, "x": 2}
    assert without_prev_result(conf) == {"cniVersion": "1.0.0", "name": "n", "x": 2}
    assert conf["prevResult"] is GOOD  # the input is not modified
    assert without_prev_result([1]) == [1]  # not an object: left to the decoder's own error


def test_usable_prev_result_keeps_a_good_one_and_drops_a_broken_one() -> None:
    conf = {"cniVersion": "1.0.0", "name": "n", "prevResult": GOOD}
    assert usable_prev_result(conf) is conf
    for bad in ({"cniVersion": "1.0.0", "routes": [None]}, {"cniVersion": "1.0.0", "ips": [{}]},
                {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "interface": 2**63}]}, {"cniVersion": 7}):
        broken = dict(conf, prevResult=bad)
        assert usable_prev_result(broken) == {"cniVersion": "1.0.0", "name": "n"}
        assert load_prev_result(usable_prev_result(broken)) == (None, None)


def test_usable_prev_result_leaves_a_non_object_to_the_decoder() -> None:
    odd: object
    for odd in (1.5, [], "x", True):
        conf: dict[str, object] = {"cniVersion": "1.0.0", "name": "n", "prevResult": odd}
        assert usable_prev_result(conf) is conf
