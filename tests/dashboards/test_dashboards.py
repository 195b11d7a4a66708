"""The Grafana dashboards without Grafana: structure, lint, and PromQL that parses and names
only metrics the running app exposes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
import yaml

from tests.dashboards.conftest import (
    DASHBOARDS_DIR,
    REPO,
    UNIT_MACROS,
    LiveStack,
    PanelQuery,
    all_panels,
    load_panel_queries,
    load_sql_queries,
)

pytestmark = pytest.mark.slow  # seconds each: skip with -m 'not slow' for a quick loop

DATASOURCE = {"type": "prometheus", "uid": "ehc-prometheus"}
CASESTORE = {"type": "grafana-postgresql-datasource", "uid": "ehc-casestore"}
NO_PLANS = "no plans issued in the last 12 months"
UIDS = {"ehc-timeliness", "ehc-advice", "ehc-service-health"}
QUERIES = load_panel_queries()
# Series Prometheus makes itself for every target; every other name must be scraped.
PROMETHEUS_SERIES = {"up": "gauge"}
RATE_FUNCTIONS = {"rate", "irate", "increase"}


def test_three_dashboards_with_stable_uids(dashboards: dict[str, dict[str, Any]]) -> None:
    assert set(dashboards) == {"timeliness.json", "advice.json", "service-health.json"}
    assert {d["uid"] for d in dashboards.values()} == UIDS
    titles = {d["uid"]: d["title"] for d in dashboards.values()}
    assert titles == {
        "ehc-timeliness": "Timeliness",
        "ehc-advice": "Advice and contributions",
        "ehc-service-health": "Service health",
    }
    for dash in dashboards.values():
        assert dash["id"] is None  # provisioned: Grafana assigns ids, uids stay
        assert 39 <= dash["schemaVersion"] <= 42
        assert dash["description"]
        assert dash["timezone"] == "Europe/London"


def test_every_panel_has_title_description_unit_and_datasource(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    for name, dash in dashboards.items():
        ids = [p["id"] for p in all_panels(dash)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in all_panels(dash):
            where = f"{name}: {panel.get('title')!r}"
            assert panel.get("title"), where
            assert len(panel.get("description", "")) >= 20, f"{where} needs a description"
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{where} needs a unit"
            source = panel["datasource"]
            assert source in (DATASOURCE, CASESTORE), where
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), where
            refs = [t["refId"] for t in panel["targets"]]
            assert refs, where
            assert len(refs) == len(set(refs)), where
            for target in panel["targets"]:
                assert target["datasource"] == source, where
                query = target["expr"] if source == DATASOURCE else target["rawSql"]
                assert query.strip(), where


def test_dashboard_variables_use_the_datasource_uid(dashboards: dict[str, dict[str, Any]]) -> None:
    for dash in dashboards.values():
        for variable in dash["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE
                assert f"${variable['name']}" in UNIT_MACROS


def test_the_20_week_panel_shows_englands_2024_figures(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    """DfE, Education, health and care plans 2025 (timeliness_20_week.csv, England, 2024):
    45.9% including exceptions, 46.4% excluding them."""
    panel = next(
        p
        for p in all_panels(dashboards["timeliness.json"])
        if p["title"] == "Final plans within 20 weeks vs England 2024"
    )
    exprs = {t["expr"] for t in panel["targets"]}
    assert {"vector(0.464)", "vector(0.459)"} <= exprs
    assert (
        "max by (exceptions) (ehc_final_plans_on_time_last_12_months)"
        " / max by (exceptions) (ehc_final_plans_issued_last_12_months)"
    ) in exprs


def test_the_headline_share_is_divided_in_promql_and_says_when_no_plan_was_issued(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    """The API exposes numerator and denominator, always (0 with no plans); 0 / 0 is NaN in
    Prometheus, which the panel maps to words instead of Grafana's "No data"."""
    for dash in dashboards.values():
        for query in (t.get("expr", "") for p in all_panels(dash) for t in p["targets"]):
            assert "ehc_final_plans_on_time_ratio" not in query
    panel = next(
        p
        for p in all_panels(dashboards["timeliness.json"])
        if p["title"] == "Final plans within 20 weeks (12 months, excl. exceptions)"
    )
    [target] = panel["targets"]
    assert target["expr"] == (
        'max(ehc_final_plans_on_time_last_12_months{exceptions="excluded"})'
        ' / max(ehc_final_plans_issued_last_12_months{exceptions="excluded"})'
    )
    assert target["instant"] is True  # the value now, not the last one before it became NaN
    mappings = panel["fieldConfig"]["defaults"]["mappings"]
    assert {
        "type": "special",
        "options": {"match": "null+nan", "result": {"text": NO_PLANS, "index": 0}},
    } in mappings


SQL_COLUMNS = {'AS "Case"', 'AS "Stage"', 'AS "Limit"', 'AS "Due date"', 'AS "Caseworker"'}


def test_every_count_has_a_table_of_the_cases_behind_it_linking_to_the_case_page(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    tables = {
        (dash["uid"], p["title"]): p
        for dash in dashboards.values()
        for p in all_panels(dash)
        if p["datasource"] == CASESTORE
    }
    assert set(tables) == {
        ("ehc-timeliness", "Cases behind 'Limits breached now'"),
        ("ehc-timeliness", "Cases behind 'Limits at risk': due within 14 days and blocked"),
        ("ehc-advice", "Overdue advice requests (the cases behind the counts)"),
    }
    for (uid, title), panel in tables.items():
        assert panel["type"] == "table", title
        [target] = panel["targets"]
        assert target["format"] == "table", title
        sql = target["rawSql"]
        assert [c for c in sorted(SQL_COLUMNS) if c not in sql] == [], title
        for personal in ("children", "given_name", "family_name", "date_of_birth", "notes"):
            assert personal not in sql, (title, personal)
        [case_column] = [
            o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Case"
        ]
        [links] = [p["value"] for p in case_column["properties"] if p["id"] == "links"]
        assert [link["url"] for link in links] == ["${app_url}/cases/${__value.raw}"], title
        dash = next(d for d in dashboards.values() if d["uid"] == uid)
        names = {v["name"] for v in dash["templating"]["list"]}
        assert "app_url" in names, uid


def test_advice_overdue_is_shown_by_team_too(dashboards: dict[str, dict[str, Any]]) -> None:
    exprs = {t.get("expr") for p in all_panels(dashboards["advice.json"]) for t in p["targets"]}
    assert 'max by (agency, team) (ehc_advice_overdue_by_team{agency=~"$agency"})' in exprs


def test_the_case_store_data_source_is_read_only_and_takes_its_password_from_the_environment() -> (
    None
):
    provisioning = REPO / "dashboards" / "grafana" / "provisioning" / "datasources"
    [source] = yaml.safe_load((provisioning / "casestore.yaml").read_text())["datasources"]
    assert source["uid"] == CASESTORE["uid"]
    assert source["type"] == CASESTORE["type"]
    assert source["user"] == "ehc_grafana"
    assert source["secureJsonData"]["password"] == "$GRAFANA_DB_PASSWORD"
    assert source["jsonData"]["database"] == "ehc"
    assert len(load_sql_queries()) == 3


def test_provisioning_points_at_the_dashboards_and_datasource() -> None:
    provisioning = REPO / "dashboards" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    [source] = datasources["datasources"]
    assert source["uid"] == DATASOURCE["uid"]
    assert source["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "ehc.yaml").read_text())
    [provider] = providers["providers"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    dashboards_dir = DASHBOARDS_DIR.relative_to(REPO)
    assert f"./{dashboards_dir}:{provider['options']['path']}:ro" in mounts


# --- PromQL ------------------------------------------------------------------------------------


def _children(expr: Any) -> Iterator[tuple[Any, str | None]]:
    """Each child expression with the function that takes it directly (or None)."""
    if isinstance(expr, promql_parser.Call):
        for arg in expr.args:
            yield arg, expr.func.name
    elif isinstance(expr, promql_parser.BinaryExpr):
        yield expr.lhs, None
        yield expr.rhs, None
    elif isinstance(expr, promql_parser.AggregateExpr):
        yield expr.expr, None
        if isinstance(expr.param, promql_parser.Expr):
            yield expr.param, None
    elif isinstance(
        expr, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
    ):
        yield expr.expr, None


def selectors(expr: Any, called_by: str | None = None) -> Iterator[tuple[str, str | None, bool]]:
    """(metric name, function applied directly to its range vector, is a range vector)."""
    if isinstance(expr, promql_parser.MatrixSelector):
        name = expr.vector_selector.name
        if name:
            yield name, called_by, True
        return
    if isinstance(expr, promql_parser.VectorSelector):
        if expr.name:
            yield expr.name, None, False
        return
    for child, function in _children(expr):
        yield from selectors(child, function)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.id)
def test_panel_query_parses(query: PanelQuery) -> None:
    promql_parser.parse(query.substituted(UNIT_MACROS))


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.id)
def test_rate_windows_use_grafana_macros(query: PanelQuery) -> None:
    for function, window in re.findall(r"\b(rate|irate|increase)\([^\[]*\[([^\]]+)\]", query.expr):
        allowed = (
            {"$__rate_interval"} if function != "increase" else {"$__rate_interval", "$__range"}
        )
        assert window in allowed, f"{query.id}: {function}(...[{window}])"


@pytest.fixture(scope="module")
def exposed(live: LiveStack) -> dict[str, str]:
    """Every sample name the API and the worker expose, from real scrapes, with its type."""
    return {**live.exposed(), **PROMETHEUS_SERIES}


def test_real_scrapes_have_the_app_and_sdk_metrics(exposed: dict[str, str]) -> None:
    for name in (
        "ehc_limits_breached",
        "ehc_http_requests_total",
        "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
        "temporal_activity_execution_failed_total",
        "temporal_local_activity_execution_failed_total",
    ):
        assert name in exposed, name


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.id)
def test_panel_query_names_only_exposed_metrics_and_rates_only_counters(
    query: PanelQuery, exposed: dict[str, str]
) -> None:
    expr = promql_parser.parse(query.substituted(UNIT_MACROS))
    for name, function, ranged in selectors(expr):
        assert name in exposed, f"{query.id}: {name} is not exposed by the API or the worker"
        cumulative = exposed[name] in {"counter", "histogram", "summary"}
        if cumulative:
            assert ranged, f"{query.id}: counter {name} outside rate()/increase()"
            assert function in RATE_FUNCTIONS, f"{query.id}: {function}() of the counter {name}"
        elif function in RATE_FUNCTIONS:
            pytest.fail(f"{query.id}: {function}() of the gauge {name}")
