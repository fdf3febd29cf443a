#!/usr/bin/env bash
# make bench: every benchmark of ledgerd, durable writes throughout (RocksDB sync=true), figures
# printed. Servers run on free loopback ports and are stopped by PID at exit.
#   BENCH_SECONDS=10 (per run)   BENCH_SKIP_PG=1 to skip the PostgreSQL comparison
set -euo pipefail
cd "$(dirname "$0")/.."
CTL=bin/ledgerctl
SECS=${BENCH_SECONDS:-10}
tmp=$(mktemp -d /tmp/ledger-bench-XXXXXX)
nats_pid=""; ledgerd_pid=""
cleanup() {
  [ -n "$ledgerd_pid" ] && kill "$ledgerd_pid" 2>/dev/null && wait "$ledgerd_pid" 2>/dev/null || true
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
metric() { curl -s -H "Authorization: Bearer $LEDGER_TOKEN" "http://127.0.0.1:$hport/metrics" | awk -v k="$1" '$1==k {print $2}'; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# Starts ledgerd on data dir $1 with NATS $2, an admin client made for it first (stopped ledger),
# then exports LEDGER_TOKEN (the benchmarks send it as a bearer token).
start_ledgerd() {
  local creds id secret
  creds=$("$CTL" client add --data "$1" --name bench --role admin)
  id=$(printf '%s' "$creds" | json_field client_id); secret=$(printf '%s' "$creds" | json_field client_secret)
  bin/ledgerd --data "$1" --http "127.0.0.1:$hport" --nats "$2" >"$1.log" 2>&1 &
  ledgerd_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null && break; sleep 0.1; done
  LEDGER_TOKEN=$(curl -s -d "grant_type=client_credentials&client_id=$id&client_secret=$secret" \
    "http://127.0.0.1:$hport/oauth/token" | json_field access_token)
  export LEDGER_TOKEN
}

echo "## machine: $(nproc) cores, $(uname -r), $(date -u +%F)"
echo "## in-process sequencer + RocksDB (group commit, sync=true)"
for b in 8190 100 1; do "$CTL" bench transfers --batch "$b" --seconds "$SECS"; done

nport=$(free_port); hport=$(free_port)
nats_procs=${NATS_GOMAXPROCS:-$(( $(nproc) <= 2 ? 1 : $(nproc) ))} # as scripts/run-service.sh
echo "## nats-server with GOMAXPROCS=$nats_procs"
GOMAXPROCS=$nats_procs nats-server -a 127.0.0.1 -p "$nport" -js -sd "$tmp/nats" >"$tmp/nats.log" 2>&1 & nats_pid=$!
start_ledgerd "$tmp/data" "nats://127.0.0.1:$nport"

echo "## HTTP API (ledgerd with the JetStream outbox on)"
"$CTL" bench http --url "127.0.0.1:$hport" --batch 1 --clients 64 --seconds "$SECS"
"$CTL" bench http --url "127.0.0.1:$hport" --batch 1 --clients 1 --seconds 5
"$CTL" bench http --url "127.0.0.1:$hport" --batch 100 --clients 8 --seconds "$SECS"
"$CTL" bench http --url "127.0.0.1:$hport" --batch 8190 --clients 3 --seconds "$SECS"

echo "## outbox: lag after the burst and drain rate"
c0=$(metric ledger_committed_seq); p0=$(metric ledger_outbox_published_seq); t0=$(date +%s.%N)
echo "outbox: right after the burst: committed=$c0 published=$p0 lag=$((c0 - p0)) events"
for _ in $(seq 1 600); do
  p=$(metric ledger_outbox_published_seq); [ "$p" -ge "$c0" ] && break; sleep 0.1
done
t1=$(date +%s.%N)
python3 -c "import sys; d=$p-$p0; t=$t1-$t0; print(f'outbox: drained {d} events in {t:.2f} s = {d/t if t>0 else 0:.0f} events/s; lag now {$c0-$p}')"

echo "## card authorizations over NATS request-reply (open loop at a fixed offered rate, then max)"
for rate in 1000 5000 20000 max; do
  "$CTL" bench cards --nats "nats://127.0.0.1:$nport" --url "127.0.0.1:$hport" --rate "$rate" \
    --seconds "$SECS" --cards 1000
done

echo "## read side: operations pages of 50 at a fixed rate; balance at an instant vs history length"
for rate in 1000 5000 10000; do
  "$CTL" bench reads --url "127.0.0.1:$hport" --rate "$rate" --seconds "$SECS"
done

kill "$ledgerd_pid"; wait "$ledgerd_pid" || true; ledgerd_pid=""

echo "## HTTP API, batch 1, publishing off (--nats none): the server alone on the 2 cores"
start_ledgerd "$tmp/data-nonats" none
"$CTL" bench http --url "127.0.0.1:$hport" --batch 1 --clients 64 --seconds "$SECS"
kill "$ledgerd_pid"; wait "$ledgerd_pid" || true; ledgerd_pid=""

echo "## verify (hash chain, double entry, stored = replayed balances)"
"$CTL" verify --data "$tmp/data" | grep -E "events|OK|FAIL"

if [ "${BENCH_SKIP_PG:-0}" != 1 ]; then
  echo "## PostgreSQL 15 on the same machine (bench/postgres.sh)"
  PG_BENCH_SECONDS="$SECS" bash bench/postgres.sh
fi
