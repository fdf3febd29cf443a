#!/usr/bin/env bash
# Runs ledgerd on this machine: installs the Debian packages it needs (if missing), builds, starts a
# local nats-server with JetStream on 127.0.0.1:4222 (data in ./data/nats) unless one answers
# there, then runs ledgerd in the foreground on 127.0.0.1:8080 with its log in ./data/ledger.
# Ctrl-C (SIGINT) or SIGTERM stops ledgerd cleanly, then the nats-server this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s
mkdir -p data
nats_pid=""
# On two cores or fewer, shared with ledgerd, nats-server's Go runtime gets one processor: its
# idle threads otherwise spin for work on the core ledgerd answers on (docs/BENCHMARKS.md, fifth
# round: nats-server 48% -> 39% of a core at 10,000 card authorizations/s). NATS_GOMAXPROCS overrides.
nats_procs=${NATS_GOMAXPROCS:-$(( $(nproc) <= 2 ? 1 : $(nproc) ))}
if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  GOMAXPROCS=$nats_procs nats-server -a 127.0.0.1 -p 4222 -js -sd data/nats >data/nats.log 2>&1 &
  nats_pid=$!
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.1; done
  echo "run: started nats-server (pid $nats_pid, log data/nats.log)"
fi
stop_nats() { [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null || true; }
trap stop_nats EXIT
data="${LEDGER_DATA:-data/ledger}"
if [ ! -e "$data/CURRENT" ]; then
  # a new ledger: one admin client, its secret shown once (kept in data/admin-client.json, 0600)
  umask 077
  bin/ledgerctl client add --data "$data" --name operator --role admin > data/admin-client.json
  echo "run: created admin client (data/admin-client.json): $(cat data/admin-client.json)"
  umask 022
fi
bin/ledgerd --data "$data" --http "${LEDGER_HTTP:-127.0.0.1:8080}" \
            --nats "${LEDGER_NATS:-nats://127.0.0.1:4222}" &
ledgerd_pid=$!
trap 'kill -TERM $ledgerd_pid 2>/dev/null' INT TERM
wait "$ledgerd_pid" || true
wait "$ledgerd_pid" 2>/dev/null || true
