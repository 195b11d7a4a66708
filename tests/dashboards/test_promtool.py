"""promtool (from Debian's prometheus package) on the config, the alert rules with their
unit tests, the main panel queries on synthetic series, and a real scrape of the API."""

from __future__ import annotations

from pathlib import Path

import promql_parser
import pytest
import yaml

from tests.dashboards.conftest import (
    PROMETHEUS_DIR,
    UNIT_MACROS,
    LiveStack,
    PrometheusBin,
    load_panel_queries,
)

pytestmark = pytest.mark.slow  # seconds each: skip with -m 'not slow' for a quick loop

TESTS_DIR = PROMETHEUS_DIR / "tests"


def _ok(result: object) -> None:
    code = getattr(result, "returncode", 1)
    assert code == 0, f"{getattr(result, 'stdout', '')}\n{getattr(result, 'stderr', '')}"


def test_config_and_rules_are_valid(prometheus_bin: PrometheusBin) -> None:
    _ok(prometheus_bin.promtool_run("check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR))
    rules = sorted(str(p) for p in (PROMETHEUS_DIR / "rules").glob("*.yml"))
    result = prometheus_bin.promtool_run("check", "rules", *rules)
    _ok(result)
    assert "SUCCESS: 7 rules found" in result.stdout


def test_alert_rules_pass_their_unit_tests(prometheus_bin: PrometheusBin) -> None:
    _ok(prometheus_bin.promtool_run("test", "rules", "alerts.test.yml", cwd=TESTS_DIR))


def test_every_alert_rule_has_a_unit_test() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules" / "ehc-alerts.yml").read_text())
    names = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    assert names == {
        "EhcStatutoryLimitBreached",
        "EhcAdviceOverdueHigh",
        "EhcAssessmentsAtRiskRising",
        "EhcTwentyWeekShareBelowEngland",
        "EhcApiDown",
        "EhcWorkerDown",
        "EhcStoreScrapeFailing",
    }
    tests = yaml.safe_load((TESTS_DIR / "alerts.test.yml").read_text())
    firing = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert firing == names
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["annotations"]["summary"]
            assert rule["annotations"]["description"]
            assert rule["labels"]["severity"] in {"warning", "critical"}


def test_main_panel_queries_on_synthetic_series(prometheus_bin: PrometheusBin) -> None:
    _ok(prometheus_bin.promtool_run("test", "rules", "panels.test.yml", cwd=TESTS_DIR))


def test_panel_tests_are_the_dashboards_queries() -> None:
    """Each promql_expr_test expr is a panel's query, macros replaced: the tests cannot drift
    from the dashboards."""

    def canonical(expr: str) -> str:
        return str(promql_parser.parse(expr))

    panels = {canonical(q.substituted(UNIT_MACROS)) for q in load_panel_queries()}
    tests = yaml.safe_load((TESTS_DIR / "panels.test.yml").read_text())
    exprs = [case["expr"] for t in tests["tests"] for case in t["promql_expr_test"]]
    assert len(exprs) >= 12
    for expr in exprs:
        assert canonical(expr) in panels, f"not a panel query: {expr}"


def test_the_headline_share_is_nan_not_absent_when_no_plan_was_issued(
    prometheus_bin: PrometheusBin, tmp_path: Path
) -> None:
    """Numerator and denominator are exposed as 0 with no plan in 12 months: the headline
    panel's division gives NaN (which the panel shows as "no plans issued in the last 12
    months"), never an empty result ("No data"). NaN is the one value not equal to itself;
    promtool cannot compare NaN samples directly."""
    [headline] = [
        q.expr
        for q in load_panel_queries()
        if q.panel == "Final plans within 20 weeks (12 months, excl. exceptions)"
    ]
    series = {
        "ehc_final_plans_on_time_last_12_months": "0x10",
        "ehc_final_plans_issued_last_12_months": "0x10",
    }
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{name}{{job="ehc-api", exceptions="excluded"}}', "values": v}
                    for name, v in series.items()
                ],
                "promql_expr_test": [
                    {
                        "expr": f"({headline}) != bool ({headline})",
                        "eval_time": "5m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    },
                    {"expr": f"absent({headline})", "eval_time": "5m", "exp_samples": []},
                ],
            }
        ],
    }
    (tmp_path / "nan.test.yml").write_text(yaml.safe_dump(test))
    _ok(prometheus_bin.promtool_run("test", "rules", "nan.test.yml", cwd=tmp_path))


@pytest.mark.parametrize("target", ["api", "worker"])
def test_promtool_check_metrics_on_a_real_scrape(
    prometheus_bin: PrometheusBin, live: LiveStack, target: str
) -> None:
    exposition = live.scrape_api() if target == "api" else live.scrape_worker()
    expected = "ehc_limits_breached{" if target == "api" else "temporal_request_total{"
    assert expected in exposition
    result = prometheus_bin.promtool_run("check", "metrics", stdin=exposition)
    report = f"promtool check metrics:\n{result.stdout}{result.stderr}"
    assert result.returncode == 0, report
    assert not (result.stdout + result.stderr).strip(), report
