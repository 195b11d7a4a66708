"""Prometheus metrics: the API's own counters and the state read from the case store.

Naming follows Prometheus conventions: prefix ``ehc_``, base units (seconds, ratios),
counters end in ``_total``, and labels are bounded codes only (stage, limit, agency, event
kind, HTTP method, route template, status code). No case reference, name, date or email is
ever a label value.

Two kinds of metric live here:

- **Process metrics** of the API (``ehc_http_*``), module-level in the default registry,
  updated by ``api.metrics_middleware``. They reset when the process restarts, so
  dashboards read them with ``rate()`` or ``increase()``.
- **State metrics** (``ehc_assessments_*``, ``ehc_limits_*``, ``ehc_advice_*``,
  ``ehc_final_plans_*``, ``ehc_event_entry_lag_seconds``) derived from the durable case
  store by one ``StoreCollector``. Only the API exposes them (one process, so ``sum()`` never counts
  a figure twice). ``StoreCollector.refresh`` reads the store at most once per
  ``metrics_cache_seconds``; ``collect`` only renders the last reading, and ``describe``
  names the families without touching the store, so registering it runs no query.

Statutory figures come from state, not from event counters: ``ehc_limits_breached`` is the
number of limit rows whose status is ``breached`` now (a gauge, since a late entry with the
true date can correct a breach), and the 20-week ratio is computed from final-plan limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date

import prometheus_client
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.logging import get_logger
from ehc.store import metrics_queries
from ehc.store.metrics_queries import StoreSnapshot

# ``_created`` series double the number of series and no dashboard here reads them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

log = get_logger(__name__)

DAY_SECONDS = 86_400
# Data-entry lag buckets, in whole days (exposed in seconds: 0 means entered the same day).
ENTRY_LAG_BUCKET_DAYS: tuple[int, ...] = (0, 1, 2, 3, 7, 14, 28, 56, 91)

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNMATCHED_ROUTE = "unmatched"

HTTP_REQUESTS = Counter(
    "ehc_http_requests",
    "HTTP requests the API answered, by method, route template and status code.",
    ["method", "route", "code"],
)
HTTP_REQUEST_DURATION = Histogram(
    "ehc_http_request_duration_seconds",
    "Time the API took to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=HTTP_DURATION_BUCKETS,
)


def observe_http_request(method: str, route: str, code: int, seconds: float) -> None:
    """Count one answered request. ``route`` is the route's template, never the raw path."""
    method = method.upper() if method.upper() in HTTP_METHODS else "OTHER"
    HTTP_REQUESTS.labels(method, route, str(code)).inc()
    HTTP_REQUEST_DURATION.labels(method, route).observe(seconds)


# --- state metrics read from the case store ---------------------------------------------------

# name: (type, help). Descriptions say what the number means for a manager.
STATE_METRICS: dict[str, tuple[str, str]] = {
    "ehc_assessments_open": (
        "gauge",
        "Open EHC needs assessments (not closed, withdrawn or with a plan issued), by stage.",
    ),
    "ehc_assessments_at_risk": (
        "gauge",
        "Assessments with at least one pending limit that is blocked and due within the "
        "at-risk window (EHC_AT_RISK_DAYS, 14 days by default).",
    ),
    "ehc_limits_pending": (
        "gauge",
        "Statutory limits not yet met and still open, by limit (the no-plan notice stays "
        "pending past week 16 until the outcome is known, rules.md 8.3).",
    ),
    "ehc_limits_at_risk": (
        "gauge",
        "Pending statutory limits that are blocked and due within the at-risk window, by limit.",
    ),
    "ehc_limits_breached": (
        "gauge",
        "Statutory limits whose status is breached now (passed unmet or met late with no "
        "lawful exception), by limit. A state, not a counter: a late entry with the true "
        "date can correct a breach.",
    ),
    "ehc_guidance_limits_pending": (
        "gauge",
        "Guidance limits (CoP 9.41 advice from bodies outside reg 8) pending now, by limit. "
        "Never counted in the statutory figures.",
    ),
    "ehc_guidance_limits_breached": (
        "gauge",
        "Guidance limits (CoP 9.41 advice from bodies outside reg 8) passed unmet or met "
        "late now, by limit. Never counted in the statutory figures.",
    ),
    "ehc_advice_outstanding": (
        "gauge",
        "Advice requests on open assessments with no advice received yet, by agency.",
    ),
    "ehc_advice_overdue": (
        "gauge",
        "Outstanding advice requests past their 6-week due date, by agency.",
    ),
    "ehc_advice_overdue_by_team": (
        "gauge",
        "Outstanding advice requests past their 6-week due date, by agency and team (the "
        "team ids of the directory, config/teams.yaml; none for a request with no team).",
    ),
    "ehc_final_plans_issued_last_12_months": (
        "gauge",
        "Final EHC plans issued in the trailing 12 months; exceptions=excluded leaves out "
        "cases with any exception on the 20-week limit (DfE SEN2 Week20). The denominator "
        "of the 20-week share: always present, 0 when no plan was issued.",
    ),
    "ehc_final_plans_on_time_last_12_months": (
        "gauge",
        "Final EHC plans issued in the trailing 12 months on time: within the 20 weeks of "
        "Reg 13(2), counted from Day 0. The numerator of the 20-week share: always present.",
    ),
    "ehc_final_plans_on_time_ratio": (
        "gauge",
        "Share (0-1) of final plans issued in the trailing 12 months that were issued within "
        "the 20 weeks of Reg 13(2), as DfE measures it; absent while no plan was issued. "
        "Dashboards and alerts divide the two series above instead.",
    ),
    "ehc_event_entry_lag_seconds": (
        "histogram",
        "Days (in seconds, whole days) from the date an event happened to the day a person "
        "entered it, over every entered event in the store, by event kind. Cumulative: the "
        "audit trail only grows.",
    ),
    "ehc_notices_sent": (
        "counter",
        "Notices sent to advisers, by agency and kind (request, reminder, due_today, overdue, "
        "escalation, returned_for_quality), from the notification ledger.",
    ),
    "ehc_notice_send_failures": (
        "counter",
        "Failed attempts to send a notice, by agency (each was retried with backoff).",
    ),
    "ehc_missing_inputs": (
        "counter",
        "Submissions refused because a section of the agreed template was missing or invalid.",
    ),
    "ehc_advice_requests": (
        "gauge",
        "Advice requests by agency and outcome (outstanding, received, returned_for_quality, "
        "not_known_to_service, withdrawn).",
    ),
    "ehc_store_metrics_ok": (
        "gauge",
        "1 if the API's last reading of the case store for these metrics succeeded, else 0.",
    ),
    "ehc_store_metrics_duration_seconds": (
        "gauge",
        "How long the API's last reading of the case store for these metrics took.",
    ),
}


def _gauge(name: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, STATE_METRICS[name][1], labels=list(labels))


def _by(name: str, label: str, values: Mapping[str, int]) -> GaugeMetricFamily:
    family = _gauge(name, [label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _by_pair(
    name: str, labels: tuple[str, str], values: Mapping[tuple[str, str], int]
) -> GaugeMetricFamily:
    family = _gauge(name, labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def entry_lag_histogram(lag_days: Mapping[str, Mapping[int, int]]) -> HistogramMetricFamily:
    """Cumulative buckets (``le`` in seconds) from counts per whole day of lag."""
    family = HistogramMetricFamily(
        "ehc_event_entry_lag_seconds",
        STATE_METRICS["ehc_event_entry_lag_seconds"][1],
        labels=["kind"],
    )
    for kind in sorted(lag_days):
        counts = lag_days[kind]
        buckets: list[tuple[str, float]] = []
        for bound in ENTRY_LAG_BUCKET_DAYS:
            below = sum(n for days, n in counts.items() if days <= bound)
            buckets.append((str(float(bound * DAY_SECONDS)), below))
        total = sum(counts.values())
        buckets.append(("+Inf", total))
        seconds = sum(days * DAY_SECONDS * n for days, n in counts.items())
        family.add_metric([kind], buckets, seconds)
    return family


def snapshot_families(snapshot: StoreSnapshot) -> list[Metric]:
    """The metric families of one reading of the store."""
    at_risk = _gauge("ehc_assessments_at_risk")
    at_risk.add_metric([], snapshot.assessments_at_risk)
    families: list[Metric] = [
        _by("ehc_assessments_open", "stage", snapshot.open_by_stage),
        at_risk,
        _by("ehc_limits_pending", "limit", snapshot.limits_pending),
        _by("ehc_limits_at_risk", "limit", snapshot.limits_at_risk),
        _by("ehc_limits_breached", "limit", snapshot.limits_breached),
        _by("ehc_guidance_limits_pending", "limit", snapshot.guidance_pending),
        _by("ehc_guidance_limits_breached", "limit", snapshot.guidance_breached),
        _by("ehc_advice_outstanding", "agency", snapshot.advice_outstanding),
        _by("ehc_advice_overdue", "agency", snapshot.advice_overdue),
        _by_pair("ehc_advice_overdue_by_team", ("agency", "team"), snapshot.advice_overdue_by_team),
        _by("ehc_final_plans_issued_last_12_months", "exceptions", snapshot.plans_issued),
        _by(
            "ehc_final_plans_on_time_last_12_months",
            "exceptions",
            snapshot.plans_within_20_weeks,
        ),
    ]
    ratio = _gauge("ehc_final_plans_on_time_ratio", ["exceptions"])
    for scope, issued in sorted(snapshot.plans_issued.items()):
        if issued:
            ratio.add_metric([scope], snapshot.plans_within_20_weeks.get(scope, 0) / issued)
    families.append(ratio)
    families.append(entry_lag_histogram(snapshot.entry_lag_days))
    families.extend(chasing_families(snapshot))
    return families


def _counter(name: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, STATE_METRICS[name][1], labels=labels)


def chasing_families(snapshot: StoreSnapshot) -> list[Metric]:
    """Counters read from durable rows: they only grow, and survive any restart."""
    figures = snapshot.chasing
    sent = _counter("ehc_notices_sent", ["agency", "kind"])
    for (agency, kind), n in sorted(figures.notices_sent.items()):
        sent.add_metric([agency, kind], n)
    failures = _counter("ehc_notice_send_failures", ["agency"])
    for agency, n in sorted(figures.failed_attempts.items()):
        failures.add_metric([agency], n)
    missing = _counter("ehc_missing_inputs", ["agency"])
    for agency, n in sorted(figures.missing_inputs.items()):
        missing.add_metric([agency], n)
    outcomes = _gauge("ehc_advice_requests", ["agency", "outcome"])
    for (agency, outcome), n in sorted(figures.outcomes.items()):
        outcomes.add_metric([agency, outcome], n)
    return [sent, failures, missing, outcomes]


class StoreCollector(Collector):
    """State gauges read from the case store, cached for ``cache_seconds``.

    Call ``await refresh()`` before rendering (the ``/metrics`` route does); ``collect``
    never does I/O. While the store cannot be read, the state families are left out (no
    stale figures) and ``ehc_store_metrics_ok`` is 0.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        today: Callable[[], date],
        at_risk_days: int,
        cache_seconds: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.today = today
        self.at_risk_days = at_risk_days
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self.snapshot: StoreSnapshot | None = None
        self.ok = False
        self.duration = 0.0
        self.reads = 0
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def fresh(self) -> bool:
        return self._read_at is not None and (self.monotonic() - self._read_at < self.cache_seconds)

    async def refresh(self) -> None:
        """Read the store unless the last reading is younger than ``cache_seconds``."""
        if self.fresh():
            return
        async with self._lock:
            if self.fresh():
                return
            started = time.perf_counter()
            try:
                async with self.sessions() as session:
                    self.snapshot = await metrics_queries.read_snapshot(
                        session, today=self.today(), at_risk_days=self.at_risk_days
                    )
                self.ok = True
            except Exception as exc:  # any database error: report it as a metric, not a 500
                self.snapshot = None
                self.ok = False
                log.warning("store_metrics_failed", error=type(exc).__name__)
            self.duration = time.perf_counter() - started
            self._read_at = self.monotonic()
            self.reads += 1

    def describe(self) -> Iterable[Metric]:
        """The families this collector yields, with no samples and no query."""
        for name, (kind, documentation) in STATE_METRICS.items():
            if kind == "histogram":
                yield HistogramMetricFamily(name, documentation, labels=["kind"])
            elif kind == "counter":
                yield CounterMetricFamily(name, documentation)
            else:
                yield GaugeMetricFamily(name, documentation)

    def collect(self) -> Iterable[Metric]:
        if self.snapshot is not None:
            yield from snapshot_families(self.snapshot)
        ok = _gauge("ehc_store_metrics_ok")
        ok.add_metric([], 1 if self.ok else 0)
        yield ok
        duration = _gauge("ehc_store_metrics_duration_seconds")
        duration.add_metric([], self.duration)
        yield duration


class StoreMetrics:
    """What one API app serves on ``/metrics``: the process's default registry (HTTP,
    process and Python metrics) plus its own ``StoreCollector``."""

    def __init__(self, collector: StoreCollector) -> None:
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(REGISTRY)
        self.registry.register(collector)

    async def exposition(self) -> bytes:
        """The Prometheus text exposition, after refreshing the store reading if stale."""
        await self.collector.refresh()
        return prometheus_client.generate_latest(self.registry)
