-- Grafana's read-only role on the case store, for the drill-down table panels.
--
-- Not a migration: the compose service `grafana-db-role` runs it with psql after the API has
-- migrated the store, at every `docker compose up` (it is idempotent, and puts the grants
-- back if a migration recreated a table):
--
--   psql -v ON_ERROR_STOP=1 -v grafana_role=ehc_grafana \
--        -v grafana_password="$GRAFANA_DB_PASSWORD" -f casestore-role.sql
--
-- The role may SELECT only the columns the panels read (case reference, stage, limits and
-- their due dates, advice requests, who entered the case, team names). It gets nothing on
-- children (names, dates of birth), notes and submissions (free text), notifications or
-- users' token hashes, and no INSERT, UPDATE or DELETE anywhere; its sessions are read-only.
-- tests/dashboards/test_casestore_role.py runs this file exactly so on a fresh database.

\set ON_ERROR_STOP on
\if :{?grafana_role}
\else
  \set grafana_role ehc_grafana
\endif

SELECT format('CREATE ROLE %I LOGIN', :'grafana_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'grafana_role') \gexec

ALTER ROLE :"grafana_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
  NOREPLICATION CONNECTION LIMIT 10 PASSWORD :'grafana_password';
ALTER ROLE :"grafana_role" SET default_transaction_read_only = on;
ALTER ROLE :"grafana_role" SET statement_timeout = '10s';

-- Start from nothing (this also takes back any column privilege), then grant what is read.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"grafana_role";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"grafana_role";
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'grafana_role') \gexec
GRANT USAGE ON SCHEMA public TO :"grafana_role";

GRANT SELECT (case_ref, stage, received_on, next_due_on, breached)
  ON cases TO :"grafana_role";
GRANT SELECT (case_ref, "limit", advice_id, statutory, due_on, met_on, status, blocked_by)
  ON limits TO :"grafana_role";
GRANT SELECT (id, case_ref, agency, team, due_on, advice_received_on, status, outcome)
  ON advice_requests TO :"grafana_role";
GRANT SELECT (case_ref, seq, kind, entered_by) ON events TO :"grafana_role";
GRANT SELECT (id, name) ON users TO :"grafana_role";
GRANT SELECT (id, agency, name) ON teams TO :"grafana_role";
