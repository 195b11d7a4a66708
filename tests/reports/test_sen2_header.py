"""The one SEN2 header resolver (``ehc.reports.service.sen2_header``) that the API and the
``ehc`` command share, and the report settings folded into ``ehc.settings.Settings``."""

from __future__ import annotations

import pytest

from ehc.reports.service import Sen2Header, Sen2HeaderMissing, report_la, sen2_header
from ehc.settings import Settings


def test_the_header_comes_from_the_settings_unless_the_caller_answers() -> None:
    settings = Settings(la_number="392", sen2_dmo="Y", sen2_dco="N")
    assert sen2_header(settings) == Sen2Header("392", "Y", "N")
    assert sen2_header(settings, la="390", dco="R") == Sen2Header("390", "Y", "R")
    assert report_la(settings) == "392"
    assert report_la(settings, "390") == "390"


def test_a_missing_answer_names_the_variable_to_set() -> None:
    with pytest.raises(Sen2HeaderMissing) as missing:
        sen2_header(Settings(la_number=None, sen2_dmo="Y", sen2_dco=None))
    assert missing.value.missing == [("la", "EHC_LA_NUMBER"), ("dco", "EHC_SEN2_DCO")]


def test_an_la_number_that_is_not_three_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="3-digit"):
        sen2_header(Settings(sen2_dmo="Y", sen2_dco="Y"), la="39")


def test_the_report_settings_keep_their_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHC_LA_NUMBER", "392")
    monkeypatch.setenv("EHC_SEN2_DMO", "R")
    monkeypatch.setenv("EHC_SEN2_DCO", "N")
    settings = Settings(_env_file=None)
    assert (settings.la_number, settings.sen2_dmo, settings.sen2_dco) == ("392", "R", "N")
