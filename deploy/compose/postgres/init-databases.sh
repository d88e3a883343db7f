#!/bin/bash
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d): one
# database and one owner role per service, each with its own password from the environment, and
# nobody else may connect to it.
set -euo pipefail
for database in identity patients notifications web keycloak; do
    variable="${database^^}_DB_PASSWORD"
    password="${!variable:?$variable is not set (run deploy/compose/generate-env.sh)}"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set=name="$database" --set=password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
