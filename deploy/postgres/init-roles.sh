#!/bin/sh
# Run by the postgres image on the data volume's first start (/docker-entrypoint-initdb.d):
# creates the three roles of roles.sql, passwords from the container's environment.
set -eu
psql --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --no-psqlrc \
    --set dagster_role="$DAGSTER_DB_USER" --set dagster_password="$DAGSTER_DB_PASSWORD" \
    --set writer_role="$SCORES_DB_USER" --set writer_password="$SCORES_DB_PASSWORD" \
    --set viewer_role="$VIEWER_DB_USER" --set viewer_password="$VIEWER_DB_PASSWORD" \
    --file /stockmonitor/roles.sql
