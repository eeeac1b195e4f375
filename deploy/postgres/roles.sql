-- Least-privilege roles of the deployment, run once by the Postgres superuser in the
-- stockmonitor database (deploy/postgres/init-roles.sh, on the volume's first start).
-- psql variables: dagster_role, writer_role, viewer_role and their *_password.
--
--   dagster_role  the Dagster instance (runs, event logs, schedules): creates and owns
--                 Dagster's tables; cannot read or write stock_scores.
--                 Used by: code-server (instance), webserver, daemon.
--   writer_role   stock_scores: creates it, adds columns, replaces days; cannot read or
--                 write Dagster's tables. Used by: code-server (the runs' scores_table step).
--   viewer_role   read-only: SELECT on every table the two others create (Dagster's and
--                 stock_scores), nothing else. Used by: webserver-readonly, and any reader
--                 of stock_scores (reports, notebooks, BI).
--
-- None is a superuser, creates databases or roles, or bypasses row security (CREATE ROLE's
-- defaults); the superuser itself is used by no service.
\set ON_ERROR_STOP on

CREATE ROLE :"dagster_role" LOGIN PASSWORD :'dagster_password';
CREATE ROLE :"writer_role" LOGIN PASSWORD :'writer_password';
CREATE ROLE :"viewer_role" LOGIN PASSWORD :'viewer_password';

-- Only these three (and the superuser) may connect; only the two writers create objects.
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO :"dagster_role", :"writer_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"viewer_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"dagster_role", :"writer_role";
GRANT USAGE ON SCHEMA public TO :"viewer_role";

-- What each writer creates later is readable by the viewer (and by nobody else).
ALTER DEFAULT PRIVILEGES FOR ROLE :"dagster_role" IN SCHEMA public
    GRANT SELECT ON TABLES TO :"viewer_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"writer_role" IN SCHEMA public
    GRANT SELECT ON TABLES TO :"viewer_role";
