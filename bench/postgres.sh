#!/usr/bin/env bash
# bench/postgres.sh - PostgreSQL 15 comparison benchmark for ledgerd.
#
# Starts a throw-away PostgreSQL cluster (127.0.0.1 only, fsync=on,
# synchronous_commit=on), creates a double-entry ledger schema equivalent to
# ledgerd's, and measures with pgbench:
#   A. one SQL transaction per transfer (64 clients, then 1 client)
#   B. one SQL transaction per batch of 100 transfers (1 client, then 8 clients)
# and prints a parseable summary, one "postgres: ..." line per run.
#
# Environment:
#   PG_BENCH_SECONDS   duration of each pgbench run (default 20)
#   PG_BENCH_ACCOUNTS  number of seeded accounts (default 10000)
#   PG_BENCH_CLIENTS   clients for workload A (default 64)
#   PG_BENCH_TMPDIR    parent of the temporary cluster dir (default $TMPDIR or /tmp);
#                      should be on a real disk, not tmpfs, for meaningful fsync.
set -euo pipefail

SECONDS_PER_RUN=${PG_BENCH_SECONDS:-20}
ACCOUNTS=${PG_BENCH_ACCOUNTS:-10000}
CLIENTS=${PG_BENCH_CLIENTS:-64}
BATCH=100
PG_VERSION=15
PG_BIN=/usr/lib/postgresql/${PG_VERSION}/bin

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in SECONDS_PER_RUN ACCOUNTS CLIENTS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
((ACCOUNTS >= 2)) || die "PG_BENCH_ACCOUNTS must be >= 2"

# ---------------------------------------------------------------------------
# 1. Install PostgreSQL 15 if missing.
# ---------------------------------------------------------------------------
pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

if ! pkg_installed postgresql || [[ ! -x $PG_BIN/initdb || ! -x $PG_BIN/pgbench ]]; then
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL ${PG_VERSION} is missing and we are not root; run: apt-get install -y postgresql"
  log "installing PostgreSQL from Debian"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq postgresql >/dev/null
fi
for b in initdb pg_ctl pg_isready psql pgbench; do
  [[ -x $PG_BIN/$b ]] || die "$PG_BIN/$b not found (PostgreSQL ${PG_VERSION} expected)"
done

# As root, every PostgreSQL binary runs as the 'postgres' system user.
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist"
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

# ---------------------------------------------------------------------------
# 2. Throw-away cluster in a temp dir, stopped and removed at exit.
# ---------------------------------------------------------------------------
WORK=$(mktemp -d "${PG_BENCH_TMPDIR:-${TMPDIR:-/tmp}}/ledgerd-pgbench.XXXXXX")
PGDATA_DIR=$WORK/data
PGLOG=$WORK/server.log
SERVER_STARTED=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((SERVER_STARTED)); then
    if ! "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1; then
      local pid=""
      [[ -r $PGDATA_DIR/postmaster.pid ]] && pid=$(head -n1 "$PGDATA_DIR/postmaster.pid")
      if [[ $pid =~ ^[0-9]+$ ]]; then
        log "pg_ctl stop failed; sending SIGQUIT to postmaster $pid"
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ${#AS_PG[@]} -gt 0 ]]; then
  chown postgres:postgres "$WORK"
fi
chmod 700 "$WORK"

free_port() {
  local p
  if p=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]]; then
    echo "$p"; return 0
  fi
  # Fallback: probe random high ports with bash's /dev/tcp (bounded).
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}
PORT=$(free_port) || die "no free TCP port found"

log "initdb in $PGDATA_DIR (port $PORT)"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 \
  --locale=C --no-instructions >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }

# Durable settings are the defaults, but set them explicitly: this is a
# durability-for-durability comparison with ledgerd's fsync'd writes.
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- ledgerd bench/postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fdatasync
max_connections = $((CLIENTS + 20))
shared_buffers = 256MB
max_wal_size = 2GB
checkpoint_timeout = 15min
logging_collector = off
EOF

"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGLOG" -w -t 30 start >/dev/null 2>&1 \
  || { SERVER_STARTED=1; cat "$PGLOG" >&2 || true; die "server did not start within 30 s"; }
SERVER_STARTED=1

ready=0
for _ in $(seq 1 60); do   # at most ~30 s
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; then ready=1; break; fi
  sleep 0.5
done
((ready)) || { cat "$PGLOG" >&2 || true; die "server not accepting connections after 30 s"; }

PSQL=("${AS_PG[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres)

# ---------------------------------------------------------------------------
# 3. Schema equivalent to ledgerd's accounts/transfers, seeded accounts.
# ---------------------------------------------------------------------------
log "creating schema, seeding $ACCOUNTS accounts"
"${PSQL[@]}" <<SQL
CREATE TABLE accounts (
  id             bigint PRIMARY KEY,
  debits_posted  bigint NOT NULL,
  credits_posted bigint NOT NULL,
  overdraft      bigint NOT NULL
);
CREATE TABLE transfers (
  id                bigint PRIMARY KEY,
  debit_account_id  bigint,
  credit_account_id bigint,
  amount            bigint,
  currency          char(3),
  reference         text,
  ts                timestamptz DEFAULT now()
);
CREATE SEQUENCE transfer_ids CACHE 100;

-- Every account funded with a large credit (10^12 minor units).
INSERT INTO accounts (id, debits_posted, credits_posted, overdraft)
SELECT g, 0, 1000000000000, 0 FROM generate_series(1, $ACCOUNTS) AS g;

-- Check-and-post for one transfer; caller must hold the row locks (or not
-- care about deadlocks). Returns the transfer id, or NULL when rejected for
-- insufficient funds.
CREATE FUNCTION post_transfer(p_debit bigint, p_credit bigint, p_amount bigint,
                              p_currency char(3), p_reference text)
RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE
  avail bigint;
  tid   bigint;
BEGIN
  IF p_debit = p_credit OR p_amount <= 0 THEN
    RAISE EXCEPTION 'invalid transfer % -> % (%)', p_debit, p_credit, p_amount;
  END IF;
  SELECT credits_posted - debits_posted + overdraft INTO avail
    FROM accounts WHERE id = p_debit FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown debit account %', p_debit;
  END IF;
  IF avail < p_amount THEN
    RETURN NULL;                                  -- insufficient funds
  END IF;
  UPDATE accounts SET debits_posted = debits_posted + p_amount WHERE id = p_debit;
  UPDATE accounts SET credits_posted = credits_posted + p_amount WHERE id = p_credit;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown credit account %', p_credit;
  END IF;
  tid := nextval('transfer_ids');
  INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency, reference)
  VALUES (tid, p_debit, p_credit, p_amount, p_currency, p_reference);
  RETURN tid;
END
\$\$;

-- One transfer: lock both accounts in id order (no deadlocks), then post.
CREATE FUNCTION transfer(p_debit bigint, p_credit bigint, p_amount bigint,
                         p_currency char(3), p_reference text)
RETURNS bigint LANGUAGE plpgsql AS \$\$
BEGIN
  PERFORM 1 FROM accounts WHERE id IN (p_debit, p_credit) ORDER BY id FOR UPDATE;
  RETURN post_transfer(p_debit, p_credit, p_amount, p_currency, p_reference);
END
\$\$;

-- A batch: lock every involved account in id order, then post each transfer.
-- Returns the number of transfers posted.
CREATE FUNCTION transfer_batch(p_debits bigint[], p_credits bigint[], p_amounts bigint[],
                               p_currency char(3), p_reference text)
RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE
  posted int := 0;
BEGIN
  PERFORM 1 FROM accounts WHERE id = ANY (p_debits || p_credits) ORDER BY id FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_debits, 1), 0) LOOP
    IF post_transfer(p_debits[i], p_credits[i], p_amounts[i], p_currency, p_reference) IS NOT NULL THEN
      posted := posted + 1;
    END IF;
  END LOOP;
  RETURN posted;
END
\$\$;

-- Random batch of n transfers between distinct accounts in 1..n_accounts,
-- amounts 1..1000, posted in the caller's (single) transaction.
CREATE FUNCTION transfer_batch_random(p_n int, p_accounts bigint, p_reference text)
RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE
  d bigint[] := '{}';
  c bigint[] := '{}';
  a bigint[] := '{}';
  deb bigint;
BEGIN
  FOR i IN 1 .. p_n LOOP
    deb  := 1 + floor(random() * p_accounts)::bigint;
    d[i] := deb;
    c[i] := 1 + (deb - 1 + 1 + floor(random() * (p_accounts - 1))::bigint) % p_accounts;
    a[i] := 1 + floor(random() * 1000)::bigint;
  END LOOP;
  RETURN transfer_batch(d, c, a, 'USD', p_reference);
END
\$\$;

VACUUM ANALYZE;
CHECKPOINT;
SQL

# pgbench scripts. A: one function call = one SQL transaction per transfer
# (random distinct debit/credit accounts). B: one call posting 100 transfers.
cat >"$WORK/per_tx.sql" <<'EOF'
\set debit random(1, :naccounts)
\set offset random(1, :naccounts - 1)
\set credit 1 + (:debit - 1 + :offset) % :naccounts
\set amount random(1, 1000)
SELECT transfer(:debit, :credit, :amount, 'USD', 'pgbench');
EOF
cat >"$WORK/batch.sql" <<EOF
SELECT transfer_batch_random($BATCH, :naccounts, 'pgbench-batch');
EOF
if [[ ${#AS_PG[@]} -gt 0 ]]; then
  chown postgres:postgres "$WORK/per_tx.sql" "$WORK/batch.sql"
fi

# run_pgbench NAME SCRIPT CLIENTS THREADS -> sets TPS, LAT_MS, FAILED
run_pgbench() {
  local name=$1 script=$2 clients=$3 threads=$4 out=$WORK/$1.out
  log "pgbench $name: ${clients} client(s), ${SECONDS_PER_RUN} s"
  if ! timeout $((SECONDS_PER_RUN + 120)) "${AS_PG[@]}" "$PG_BIN/pgbench" -n -M prepared \
      -h 127.0.0.1 -p "$PORT" -U postgres \
      -c "$clients" -j "$threads" -T "$SECONDS_PER_RUN" --max-tries=10 \
      -D naccounts="$ACCOUNTS" -f "$script" postgres >"$out" 2>&1; then
    cat "$out" >&2
    die "pgbench $name failed"
  fi
  TPS=$(awk '/^tps = /{print $3; exit}' "$out")
  LAT_MS=$(awk '/^latency average = /{print $4; exit}' "$out")
  FAILED=$(awk '/^number of failed transactions: /{print $5; exit}' "$out")
  FAILED=${FAILED:-0}
  [[ -n $TPS && -n $LAT_MS ]] || { cat "$out" >&2; die "could not parse pgbench $name output"; }
  sed 's/^/    /' "$out" >&2
}

SUMMARY=()

# Workload A: one SQL transaction per transfer.
run_pgbench per_tx "$WORK/per_tx.sql" "$CLIENTS" 2
SUMMARY+=("$(printf 'postgres: per-transaction transfers/s=%.0f clients=%d latency_ms_avg=%s failed=%s' \
  "$TPS" "$CLIENTS" "$LAT_MS" "$FAILED")")

run_pgbench per_tx_1 "$WORK/per_tx.sql" 1 1
SUMMARY+=("$(printf 'postgres: per-transaction transfers/s=%.0f clients=1 latency_ms_avg=%s failed=%s' \
  "$TPS" "$LAT_MS" "$FAILED")")

# Workload B: one SQL transaction per batch of 100 transfers.
for c in 1 8; do
  run_pgbench "batch_c$c" "$WORK/batch.sql" "$c" $((c > 1 ? 2 : 1))
  SUMMARY+=("$(awk -v tps="$TPS" -v n="$BATCH" -v c="$c" -v lat="$LAT_MS" -v f="$FAILED" \
    'BEGIN { printf "postgres: batch%d transfers/s=%.0f clients=%d latency_ms_avg=%s failed=%s", n, tps * n, c, lat, f }')")
done

# Sanity: the ledger balances (every posted debit has a matching credit).
CHECK=$("${PSQL[@]}" -At -c "
  SELECT (SELECT count(*) FROM transfers) || ' ' ||
         CASE WHEN (SELECT sum(debits_posted) FROM accounts) = (SELECT coalesce(sum(amount), 0) FROM transfers)
               AND (SELECT sum(credits_posted) FROM accounts) - $ACCOUNTS::bigint * 1000000000000
                   = (SELECT coalesce(sum(amount), 0) FROM transfers)
              THEN 'ok' ELSE 'MISMATCH' END")
PG_SERVER_VERSION=$("${PSQL[@]}" -At -c "SHOW server_version")

echo "postgres: version=${PG_SERVER_VERSION%% *} accounts=$ACCOUNTS seconds_per_run=$SECONDS_PER_RUN fsync=on synchronous_commit=on"
printf '%s\n' "${SUMMARY[@]}"
echo "postgres: check transfers=${CHECK% *} balanced=${CHECK#* }"
[[ ${CHECK#* } == ok ]] || die "ledger does not balance"
