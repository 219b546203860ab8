"""The tests' own installer of Nango's Node.js packages says what went wrong, quickly,
in npm's words (before: with the registry unreachable the suite hung about 3.5 minutes
and failed with a bare CalledProcessError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import nango_node


def test_an_unreachable_registry_is_a_clear_error_with_npms_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANGO_HOOKS_TEST_NPM_DIR", str(tmp_path / "npm"))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    with pytest.raises(RuntimeError) as failed:
        nango_node.install()
    text = str(failed.value)
    assert "npm install failed" in text and str(tmp_path / "npm") in text
    assert "npm said:" in text and "ECONNREFUSED" in text  # npm's own words
