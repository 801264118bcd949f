#!/usr/bin/env bash
# Backs up Warden's database: everything Warden keeps (identities, orgs,
# records, grants, audit log, change log) is in Postgres. Redis holds only a
# cache that is rebuilt from Postgres, so it is not backed up.
#
#   DATABASE_URL=postgres://... scripts/backup.sh warden.dump
#
# The dump is pg_dump's custom format: consistent (one snapshot) while
# Warden keeps serving, compressed, and restorable with scripts/restore.sh.
set -euo pipefail
out="${1:?usage: scripts/backup.sh FILE}"
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/warden?sslmode=disable}"
pg_dump --format=custom --no-owner --no-privileges --file "$out" "$url"
echo "backup: wrote $out"
