"""Benchmarks that print figures (`make bench`); targets live in docs/performance.md."""
