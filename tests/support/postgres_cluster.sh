# A throwaway PostgreSQL cluster for shell tests and benches (the shell twin of
# tests/support/postgres_cluster.h). Source it, then:
#   pg_cluster_start LOG_DIR || exit    # 77 where PostgreSQL is not installed, 1 on failure
#   "$pg_database_uri"                   # postgresql:///federation?host=…&port=5432&user=fedsyn
#   pg_psql -c "SQL"                     # psql on that database, unaligned, tuples only
#   pg_client pg_dump federation         # any client program of the cluster's version, connected
#   pg_cluster_stop                      # also safe to call from an EXIT trap, and twice
# The cluster lives in a fresh folder under /tmp (its Unix socket path must be short and
# reachable by `nobody`), listens on no TCP port, runs with fsync off (it is scratch: what the
# callers test is the coordinator's crash safety, not the server's), and as root runs as
# `nobody`, since PostgreSQL refuses to run as root. The server is the caller's child and dies
# with it (--pdeathsig) even if the caller is killed.

pg_dir=""
pg_bin=""
pg_server_pid=""
pg_database_uri=""
pg_as_server_user=()

pg_cluster_start() {
  local log_dir="$1"
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "SKIP: PostgreSQL is not installed (deploy/install-deps.sh installs it)"
    return 77
  fi
  pg_as_server_user=()
  if [ "$(id -u)" -eq 0 ]; then pg_as_server_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --); fi
  pg_dir=$(mktemp -d /tmp/fedsyn-postgres-XXXXXX) || return 1
  [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$pg_dir"
  "${pg_as_server_user[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U fedsyn --auth=trust -E UTF8 \
    --no-locale --no-sync > "$log_dir/initdb.log" 2>&1 || { cat "$log_dir/initdb.log"; return 1; }
  setpriv "${pg_as_server_user[@]:1:3}" --pdeathsig SIGQUIT -- "$pg_bin/postgres" -D "$pg_dir/data" \
    -k "$pg_dir" -c listen_addresses= -p 5432 -c fsync=off > "$log_dir/postgres.log" 2>&1 &
  pg_server_pid=$!
  local _
  for _ in $(seq 1 300); do
    "$pg_bin/pg_isready" -q -h "$pg_dir" -p 5432 && break
    sleep 0.1
  done
  "$pg_bin/createdb" -h "$pg_dir" -p 5432 -U fedsyn federation \
    || { cat "$log_dir/postgres.log"; return 1; }
  pg_database_uri="postgresql:///federation?host=$pg_dir&port=5432&user=fedsyn"
}

pg_client() {
  local program="$1"
  shift
  "$pg_bin/$program" -h "$pg_dir" -p 5432 -U fedsyn "$@"
}

pg_psql() { pg_client psql -X -q -At -v ON_ERROR_STOP=1 -d federation "$@"; }

pg_cluster_stop() {
  if [ -n "$pg_server_pid" ]; then
    kill -QUIT "$pg_server_pid" 2>/dev/null
    wait "$pg_server_pid" 2>/dev/null
    pg_server_pid=""
  fi
  [ -n "$pg_dir" ] && rm -rf "$pg_dir"
  pg_dir=""
}
