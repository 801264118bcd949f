#!/usr/bin/env bash
# Restores a dump made by scripts/backup.sh into DATABASE_URL, replacing what
# is there, in one transaction (a failed restore changes nothing). Then it
# drops the Redis copies of the orgs' access state under REDIS_PREFIX: they
# describe the database as it was before the restore.
#
#   Stop every Warden instance first (their in-memory access state is as
#   stale as Redis), then:
#   DATABASE_URL=postgres://... REDIS_URL=redis://... scripts/restore.sh warden.dump
#   and start the instances again.
set -euo pipefail
in="${1:?usage: scripts/restore.sh FILE}"
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/warden?sslmode=disable}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
prefix="${REDIS_PREFIX:-warden:}"
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname "$url" "$in"
echo "restore: database restored from $in"
if command -v redis-cli >/dev/null; then
  redis-cli -u "$redis_url" --scan --pattern "${prefix}*" | xargs -r -n 500 redis-cli -u "$redis_url" del >/dev/null
  echo "restore: dropped the cached access state under ${prefix}"
else
  echo "restore: redis-cli not found: delete the keys under ${prefix} in Redis before starting Warden" >&2
  exit 1
fi
