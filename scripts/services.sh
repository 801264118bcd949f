#!/usr/bin/env bash
# scripts/services.sh — make sure PostgreSQL and Redis are reachable for warden.
#
# Usage:
#   scripts/services.sh [--ensure-db [NAME]]   ensure both services are up (default)
#   scripts/services.sh stop                   stop the project-local servers under .data/
#   scripts/services.sh status                 report what is reachable / running locally
#
# Environment:
#   DATABASE_URL  default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#   REDIS_URL     default redis://127.0.0.1:6379/0
#
# If a service already answers at the URL's host:port nothing is touched.
# Otherwise, for a local host (127.0.0.1/localhost/::1), the binaries are
# installed with apt-get if missing and a throw-away, project-local server is
# started with its data under <repo>/.data/ on the requested port.
#
# --ensure-db [NAME] additionally creates database NAME (default: the database
# named in DATABASE_URL) when it does not exist yet.
#
# Progress messages go to stderr; stdout gets only the URLs to use:
#   DATABASE_URL=...
#   REDIS_URL=...
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DATA_DIR="$REPO_ROOT/.data"
PG_DIR_LINK="$DATA_DIR/postgres"    # data directory (or a symlink to it, see pg_pick_datadir)
REDIS_DIR="$DATA_DIR/redis"
REDIS_LOG="$DATA_DIR/redis.log"

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------- URL parsing
# parse_url URL DEFAULT_PORT -> sets U_USER U_HOST U_PORT U_PATH
parse_url() {
	local url="$1" default_port="$2" rest hostport userinfo=""
	rest="${url#*://}"          # strip scheme
	rest="${rest%%\?*}"         # strip query
	rest="${rest%%#*}"
	hostport="${rest%%/*}"
	if [ "$hostport" = "$rest" ]; then U_PATH=""; else U_PATH="${rest#*/}"; fi
	if [[ "$hostport" == *@* ]]; then
		userinfo="${hostport%@*}"
		hostport="${hostport##*@}"
	fi
	U_USER="${userinfo%%:*}"
	if [[ "$hostport" == \[*\]* ]]; then         # [ipv6]:port
		U_HOST="${hostport#\[}"; U_HOST="${U_HOST%%\]*}"
		U_PORT="${hostport##*\]}"; U_PORT="${U_PORT#:}"
	elif [[ "$hostport" == *:* ]]; then
		U_HOST="${hostport%%:*}"; U_PORT="${hostport##*:}"
	else
		U_HOST="$hostport"; U_PORT=""
	fi
	[ -n "$U_HOST" ] || U_HOST=127.0.0.1
	[ -n "$U_PORT" ] || U_PORT="$default_port"
	[[ "$U_PORT" =~ ^[0-9]+$ ]] || die "bad port '$U_PORT' in URL $url"
}

is_local_host() {
	case "$1" in 127.0.0.1|localhost|::1|0.0.0.0) return 0 ;; *) return 1 ;; esac
}

tcp_open() { # host port
	local h="$1" p="$2"
	# shellcheck disable=SC2016 # expanded by the inner bash
	if have timeout; then
		timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>/dev/null
	else
		# shellcheck disable=SC2016
		bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>/dev/null
	fi
}

# Run a command with root privileges (directly, or via sudo).
as_root() {
	if is_root; then "$@"
	elif have sudo; then sudo "$@"
	else die "need root privileges for: $* (run as root or install sudo)"
	fi
}

apt_install() { # packages...
	have apt-get || die "apt-get not found; please install: $*"
	log "installing $* with apt-get ..."
	export DEBIAN_FRONTEND=noninteractive
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; then
		log "apt-get install failed; running apt-get update and retrying"
		as_root apt-get update >&2
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 \
			|| die "apt-get install $* failed"
	fi
}

# Serialise concurrent starts (e.g. two `make test` at once). The lock is on fd 9;
# servers are started with 9>&- so that they do not inherit (and keep) it.
LOCKED=0
lock_data_dir() {
	mkdir -p "$DATA_DIR"
	[ "$LOCKED" = 0 ] || return 0
	LOCKED=1
	if have flock; then
		exec 9>"$DATA_DIR/.lock"
		flock -w 120 9 || die "timed out waiting for $DATA_DIR/.lock"
	fi
}

# ------------------------------------------------------------------ Postgres
PG_BIN=""
pg_find_bin() {
	PG_BIN=""
	local d
	# Prefer Debian's versioned binaries (newest first), then PATH.
	# shellcheck disable=SC2012 # plain paths; need version sort
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then PG_BIN="$d"; return 0; fi
	done
	if have initdb && have pg_ctl; then
		PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
		[ -x "$PG_BIN/initdb" ] || PG_BIN="$(dirname "$(command -v pg_ctl)")"
		return 0
	fi
	return 1
}

psql_cmd() {
	if have psql; then echo psql
	elif [ -n "$PG_BIN" ] && [ -x "$PG_BIN/psql" ]; then echo "$PG_BIN/psql"
	elif pg_find_bin && [ -x "$PG_BIN/psql" ]; then echo "$PG_BIN/psql"
	else return 1
	fi
}

pg_isready_cmd() {
	local f
	# The versioned binary avoids Debian's (slow, perl) pg_wrapper.
	# shellcheck disable=SC2012
	for f in $(ls /usr/lib/postgresql/*/bin/pg_isready 2>/dev/null | sort -rV); do
		[ -x "$f" ] && { echo "$f"; return 0; }
	done
	command -v pg_isready
}

pg_ready() { # host port
	local isready
	if isready="$(pg_isready_cmd)"; then
		local rc=0
		"$isready" -q -h "$1" -p "$2" -t 2 >/dev/null 2>&1 || rc=$?
		# 0 = accepting; 1 = starting up / shutting down -> give it a moment
		if [ "$rc" -eq 1 ]; then
			for _ in $(seq 1 20); do
				sleep 0.25
				rc=0; "$isready" -q -h "$1" -p "$2" -t 2 >/dev/null 2>&1 || rc=$?
				[ "$rc" -eq 1 ] || break
			done
		fi
		[ "$rc" -eq 0 ]
	else
		tcp_open "$1" "$2"
	fi
}

# User that owns/runs the local cluster. Postgres refuses to run as root.
PG_RUN_USER=""
pg_pick_user() {
	if ! is_root; then PG_RUN_USER="$(id -un)"; return; fi
	if id postgres >/dev/null 2>&1; then
		PG_RUN_USER=postgres
	else
		if ! id warden-pg >/dev/null 2>&1; then
			log "creating system user warden-pg to run the local PostgreSQL"
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin warden-pg \
				|| die "could not create system user warden-pg"
		fi
		PG_RUN_USER=warden-pg
	fi
}

as_pg() { # run a command as PG_RUN_USER, from / (its cwd may be unreadable to it)
	if ! is_root; then (cd / && "$@"); return; fi
	if have runuser; then
		(cd / && runuser -u "$PG_RUN_USER" -- "$@")
	else
		local q; q="$(printf '%q ' "$@")"
		(cd / && su "$PG_RUN_USER" -s /bin/sh -c "$q")
	fi
}

# Resolve the data directory. Normally <repo>/.data/postgres; when running as
# root and the postgres user cannot reach the repository (e.g. it lives under
# /root, mode 700) the cluster lives in /var/tmp and .data/postgres is a symlink.
PG_DATA=""; PG_LOG=""
pg_pick_datadir() {
	if [ -L "$PG_DIR_LINK" ]; then
		PG_DATA="$(readlink -f "$PG_DIR_LINK")"
		PG_LOG="$(dirname "$PG_DATA")/postgres.log"
		return
	fi
	PG_DATA="$PG_DIR_LINK"; PG_LOG="$DATA_DIR/postgres.log"
	is_root && chmod a+x "$DATA_DIR"
	if is_root && [ ! -d "$PG_DATA" ] && ! as_pg test -x "$DATA_DIR" 2>/dev/null; then
		local alt
		alt="/var/tmp/warden-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
		log "user $PG_RUN_USER cannot access $DATA_DIR; keeping the cluster in $alt (symlinked from .data/postgres)"
		mkdir -p "$alt/postgres"
		chown "$PG_RUN_USER" "$alt" "$alt/postgres"
		chmod 700 "$alt/postgres"
		ln -s "$alt/postgres" "$PG_DIR_LINK"
		PG_DATA="$alt/postgres"; PG_LOG="$alt/postgres.log"
	fi
}

pg_start_local() { # port
	local port="$1"
	if ! pg_find_bin; then
		apt_install postgresql
		# The Debian package may have started its own cluster on this port.
		if pg_ready "$PG_HOST" "$port"; then log "PostgreSQL is now reachable at $PG_HOST:$port"; return 0; fi
		pg_find_bin || die "PostgreSQL binaries still not found after installing"
	fi
	log "using PostgreSQL binaries from $PG_BIN"
	pg_pick_user
	lock_data_dir
	# Someone may have started it while we waited for the lock.
	if pg_ready "$PG_HOST" "$port"; then log "PostgreSQL came up at $PG_HOST:$port meanwhile"; return 0; fi
	pg_pick_datadir

	if [ ! -s "$PG_DATA/PG_VERSION" ]; then
		log "initialising project-local cluster in $PG_DATA"
		mkdir -p "$PG_DATA"
		is_root && chown "$PG_RUN_USER" "$PG_DATA"
		chmod 700 "$PG_DATA"
		as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U postgres -E UTF8 --locale=C --no-sync >"$DATA_DIR/initdb.log" 2>&1 \
			|| { cat "$DATA_DIR/initdb.log" >&2; die "initdb failed"; }
	fi
	touch "$PG_LOG"
	is_root && chown "$PG_RUN_USER" "$PG_LOG"

	# A cluster of ours still running, but on another port? Restart it.
	if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
		log "local cluster is running but not on port $port; restarting it there"
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m fast -w >/dev/null
	fi

	log "starting project-local PostgreSQL on 127.0.0.1:$port (data $PG_DATA, log $PG_LOG)"
	if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -t 60 -w \
		-o "-p $port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null 9>&-; then
		tail -n 30 "$PG_LOG" >&2 || true
		die "could not start PostgreSQL (see $PG_LOG)"
	fi
	pg_ready 127.0.0.1 "$port" || die "PostgreSQL started but is not answering on 127.0.0.1:$port"

	# Make sure the role from DATABASE_URL exists in our fresh cluster.
	if [ -n "$PG_USER" ] && [ "$PG_USER" != postgres ]; then
		local psql; psql="$(psql_cmd)" || die "psql not found"
		if [ -z "$("$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
			"SELECT 1 FROM pg_roles WHERE rolname = '${PG_USER//\'/\'\'}'")" ]; then
			log "creating role $PG_USER"
			"$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
				-c "CREATE ROLE \"${PG_USER//\"/\"\"}\" LOGIN SUPERUSER" >&2
		fi
	fi
}

pg_stop_local() {
	[ -e "$PG_DIR_LINK" ] || { log "no local PostgreSQL cluster in $PG_DIR_LINK"; return 0; }
	pg_find_bin || { log "PostgreSQL binaries not found; cannot stop $PG_DIR_LINK"; return 0; }
	pg_pick_user
	PG_DATA="$(readlink -f "$PG_DIR_LINK")"
	if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
		log "stopping project-local PostgreSQL ($PG_DATA)"
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m fast -w >/dev/null
	else
		log "project-local PostgreSQL is not running"
	fi
}

# Replace the database in a postgres URL: url_with_db URL DB
url_with_db() {
	local url="$1" db="$2" scheme rest query=""
	scheme="${url%%://*}"; rest="${url#*://}"
	if [[ "$rest" == *\?* ]]; then query="?${rest#*\?}"; rest="${rest%%\?*}"; fi
	rest="${rest%%/*}"
	printf '%s://%s/%s%s' "$scheme" "$rest" "$db" "$query"
}

pg_ensure_db() { # name
	local db="$1" psql admin exists
	[[ "$db" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "refusing to create database with odd name '$db'"
	if ! psql="$(psql_cmd)"; then
		apt_install postgresql-client
		psql="$(psql_cmd)" || die "psql not found"
	fi
	admin="$(url_with_db "$DATABASE_URL" postgres)"
	exists="$("$psql" "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" \
		|| die "cannot list databases via $admin"
	if [ "$exists" = 1 ]; then
		return 0
	fi
	log "creating database $db"
	"$psql" "$admin" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >&2 \
		|| die "could not create database $db"
}

ensure_postgres() {
	parse_url "$DATABASE_URL" 5432
	PG_HOST="$U_HOST"; PG_PORT="$U_PORT"; PG_USER="$U_USER"; PG_DB="${U_PATH:-postgres}"
	if pg_ready "$PG_HOST" "$PG_PORT"; then
		log "PostgreSQL is reachable at $PG_HOST:$PG_PORT"
		return 0
	fi
	is_local_host "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT is not reachable (not a local address, so not starting one)"
	log "PostgreSQL is not reachable at $PG_HOST:$PG_PORT"
	pg_start_local "$PG_PORT"
}

# --------------------------------------------------------------------- Redis
redis_ready() { # host port
	if have redis-cli; then
		local out
		if have timeout; then
			out="$(timeout 3 redis-cli -h "$1" -p "$2" ping 2>&1)" || true
		else
			out="$(redis-cli -h "$1" -p "$2" ping 2>&1)" || true
		fi
		# NOAUTH/WRONGPASS: a password-protected server is still a server.
		[[ "$out" == *PONG* || "$out" == *NOAUTH* || "$out" == *WRONGPASS* || "$out" == *LOADING* ]]
	else
		tcp_open "$1" "$2"
	fi
}

redis_start_local() { # port
	local port="$1" bin
	if ! bin="$(command -v redis-server)"; then
		if [ -x /usr/bin/redis-server ]; then bin=/usr/bin/redis-server
		else
			apt_install redis-server redis-tools
			if redis_ready "$REDIS_HOST" "$port"; then log "Redis is now reachable at $REDIS_HOST:$port"; return 0; fi
			bin="$(command -v redis-server || echo /usr/bin/redis-server)"
			[ -x "$bin" ] || die "redis-server still not found after installing"
		fi
	fi
	lock_data_dir
	if redis_ready "$REDIS_HOST" "$port"; then log "Redis came up at $REDIS_HOST:$port meanwhile"; return 0; fi
	local pidfile="$DATA_DIR/redis-$port.pid"
	stop_redis_pidfile "$pidfile" quiet   # stale server of ours on this port?
	mkdir -p "$REDIS_DIR"
	log "starting project-local Redis on 127.0.0.1:$port (dir $REDIS_DIR, log $REDIS_LOG)"
	"$bin" --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$REDIS_DIR" \
		--save "" --appendonly no --logfile "$REDIS_LOG" --pidfile "$pidfile" >&2 9>&- \
		|| die "could not start redis-server (see $REDIS_LOG)"
	for _ in $(seq 1 50); do
		if redis_ready 127.0.0.1 "$port"; then return 0; fi
		sleep 0.2
	done
	tail -n 20 "$REDIS_LOG" >&2 || true
	die "Redis did not answer on 127.0.0.1:$port within 10s (see $REDIS_LOG)"
}

stop_redis_pidfile() { # PIDFILE [quiet]
	local f="$1" pid
	[ -s "$f" ] || return 0
	pid="$(cat "$f")"
	if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
		&& grep -q redis "/proc/$pid/comm" 2>/dev/null; then
		log "stopping project-local Redis (pid $pid, $(basename "$f" .pid))"
		kill "$pid"
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	else
		[ "${2:-}" = quiet ] || log "project-local Redis from $f is not running (stale pidfile)"
	fi
	rm -f "$f"
}

redis_stop_local() {
	local f found=0
	for f in "$DATA_DIR"/redis-*.pid; do
		[ -e "$f" ] || continue
		found=1
		stop_redis_pidfile "$f"
	done
	[ "$found" = 1 ] || log "no project-local Redis running"
}

ensure_redis() {
	parse_url "$REDIS_URL" 6379
	REDIS_HOST="$U_HOST"; REDIS_PORT="$U_PORT"
	if redis_ready "$REDIS_HOST" "$REDIS_PORT"; then
		log "Redis is reachable at $REDIS_HOST:$REDIS_PORT"
		return 0
	fi
	is_local_host "$REDIS_HOST" || die "Redis at $REDIS_HOST:$REDIS_PORT is not reachable (not a local address, so not starting one)"
	if have redis-cli && tcp_open "$REDIS_HOST" "$REDIS_PORT"; then
		die "port $REDIS_PORT on $REDIS_HOST is in use but does not answer like Redis; pick another REDIS_URL"
	fi
	log "Redis is not reachable at $REDIS_HOST:$REDIS_PORT"
	redis_start_local "$REDIS_PORT"
}

# ---------------------------------------------------------------------- main
cmd=up; ensure_db=""
while [ $# -gt 0 ]; do
	case "$1" in
		up|start) cmd=up ;;
		stop) cmd=stop ;;
		status) cmd=status ;;
		--ensure-db)
			if [ $# -gt 1 ] && [[ "$2" != -* ]] && [[ "$2" != up && "$2" != start ]]; then
				ensure_db="$2"; shift
			else
				ensure_db="@url"
			fi ;;
		--ensure-db=*) ensure_db="${1#--ensure-db=}" ;;
		-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift
done

case "$cmd" in
	stop)
		pg_stop_local
		redis_stop_local
		;;
	status)
		parse_url "$DATABASE_URL" 5432
		if pg_ready "$U_HOST" "$U_PORT"; then echo "postgres $U_HOST:$U_PORT: up"; else echo "postgres $U_HOST:$U_PORT: down"; fi
		parse_url "$REDIS_URL" 6379
		if redis_ready "$U_HOST" "$U_PORT"; then echo "redis $U_HOST:$U_PORT: up"; else echo "redis $U_HOST:$U_PORT: down"; fi
		[ -e "$PG_DIR_LINK" ] && echo "local postgres cluster: $(readlink -f "$PG_DIR_LINK")"
		for f in "$DATA_DIR"/redis-*.pid; do
			[ -s "$f" ] && echo "local redis: pid $(cat "$f") ($(basename "$f" .pid))"
		done
		true
		;;
	up)
		ensure_postgres
		ensure_redis
		if [ -n "$ensure_db" ]; then
			[ "$ensure_db" = "@url" ] && ensure_db="$PG_DB"
			pg_ensure_db "$ensure_db"
		fi
		printf 'DATABASE_URL=%s\nREDIS_URL=%s\n' "$DATABASE_URL" "$REDIS_URL"
		;;
esac
