"""The plugins' CNI_NETNS checks quote the path as Go's %q: control characters escaped, not copied raw."""

from __future__ import annotations

import pytest

from pycni.plugins.shared.netns import check_netns, netns_present


def test_control_char_in_netns_path_is_escaped_as_go_does(tmp_path):
    path = f"{tmp_path}/a\nb\tc"
    with pytest.raises(ValueError) as ei:
        check_netns(path)
    assert str(ei.value).startswith(f'failed to open netns "{tmp_path}/a\\nb\\tc": ')


def test_verbatim_mode_keeps_upstream_plain_quotes(tmp_path):
    path = f"{tmp_path}/missing"
    with pytest.raises(ValueError, match=f'^failed to open netns "{path}": failed to Statfs'):
        check_netns(path, verbatim=True)


def test_a_missing_namespace_is_not_present_and_a_file_is_an_error(tmp_path):
    assert not netns_present("")
    assert not netns_present(f"{tmp_path}/gone")
    plain = tmp_path / "plain\x01"
    plain.write_text("")
    with pytest.raises(ValueError, match=r'^failed to open netns ".*/plain\\x01": unknown FS magic'):
        netns_present(str(plain), wrap=True)
