"""The case store: a SQL projection of each case view, plus the data Temporal never sees.

The store holds the child's personal data, free-text notes and users, and a queryable
projection of every case view (limits, advice requests, exceptions and the append-only
audit trail). It runs on SQLite (the default, shared by API and worker) or PostgreSQL.
"""
