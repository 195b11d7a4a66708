"""Statutory returns and reports: the SEN2 person-level return and DfE's timeliness
measures, read from the case store (``ehc.store.report_queries``). See docs/reports.md."""
