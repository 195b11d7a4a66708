"""Without Chromium the browser tests skip with a one-line hint; under CI=true they fail."""

from __future__ import annotations

import pytest

from tests.browser.conftest import HINT, chromium_path


def test_a_missing_browser_skips_with_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHC_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        chromium_path()
    assert "apt-get install -y chromium" in str(skipped.value)
    assert "\n" not in HINT


def test_a_missing_browser_fails_the_run_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHC_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        chromium_path()
    assert "CI=true" in str(failed.value)
