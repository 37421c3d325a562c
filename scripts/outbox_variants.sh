#!/usr/bin/env bash
# What the transactional outbox costs PostgreSQL, by variant, with pgbench (docs/BENCHMARKS.md,
# "Outbox cost"). Starts a throwaway PostgreSQL cluster (durable unless FAST=1), migrates it with
# gridstore's and EscrowGrid's migrations, and runs the store's create + transition pair as
# escrowgrid-loadgen's pgbench baseline writes it, alternating variants in every round:
#
#   none     the pair without its outbox append
#   outbox   the pair with its outbox append, the schema as migrated (wake-ups announced after
#            commit, migration 0010)
#   trigger  the same with 0004's statement trigger that called pg_notify in every appending
#            transaction (the design before 0010)
#   nogin    outbox without the GIN index on payloads
#   lean     outbox without the GIN index and the event-type index
#   minimal  lean without the correlation-id index too
#
# Each run reports pairs/s, the cluster's CPU per pair (postmaster, backends and background
# processes, from /proc: field 14-17 of stat, in clock ticks) and the WAL written per pair; on
# a shared machine those two hold when the throughput does not.
#
# Usage: scripts/outbox_variants.sh [clients...]   (default: 1 4 32)
# Knobs: ROUNDS (3), SECS (8 per run), VARIANTS ("none outbox trigger"), FAST=1 (fsync,
# synchronous_commit and full_page_writes off), LOADGEN (target/release/escrowgrid-loadgen,
# else target/debug/escrowgrid-loadgen), PG_BIN (/usr/lib/postgresql/15/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS="${*:-1 4 32}"
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-8}"
VARIANTS="${VARIANTS:-none outbox trigger}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
LOADGEN="${LOADGEN:-}"
if [ -z "$LOADGEN" ]; then
  for candidate in target/release/escrowgrid-loadgen target/debug/escrowgrid-loadgen; do
    if [ -x "$candidate" ]; then LOADGEN="$candidate"; break; fi
  done
fi
[ -n "$LOADGEN" ] || { echo "build escrowgrid-loadgen first (cargo build --release -p bench)" >&2; exit 1; }

work="$(mktemp -d)"
chmod 755 "$work"
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$work"
  run_as=(runuser -u postgres --)
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
stop() { "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap stop EXIT

settings="-c shared_buffers=256MB -c max_connections=200 -c unix_socket_directories=$work"
if [ "${FAST:-0}" = 1 ]; then
  settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${run_as[@]}" "$PG_BIN/initdb" -D "$work/data" -A trust -U postgres >/dev/null
"${run_as[@]}" "$PG_BIN/pg_ctl" -D "$work/data" -o "-p $port $settings" -l "$work/log" -w start >/dev/null
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)

"${psql[@]}" -c "create database base"
for migration in crates/gridstore/migrations/*.sql crates/escrowgrid/migrations/*.sql; do
  "${psql[@]}" -d base -1 -f "$migration" >/dev/null
done
"${psql[@]}" -d base -c "
  insert into institutions (id, name, regions, verticals, created_at, updated_at)
  values ('inst_b', 'Bench', array['US'], array['CONSTRUCTION'], now(), now());
  insert into asset_templates (id, institution_id, code, name, vertical, region, config,
      created_at, updated_at)
  values ('tmpl_b', 'inst_b', 'CONSTR_ESCROW', 'Escrow', 'CONSTRUCTION', 'US',
      '{\"currency\":\"USD\",\"region\":\"US\"}', now(), now());
  insert into assets (id, institution_id, template_id, label, metadata, created_at, updated_at)
  values ('ast_b', 'inst_b', 'tmpl_b', 'Tower', '{}', now(), now());"
"$LOADGEN" --write-pgbench-scripts "$work/scripts"

# 0004's wake-up trigger, as it was before migration 0010 dropped it.
TRIGGER="create function gs_events_notify() returns trigger language plpgsql as \$\$
begin perform pg_notify('gs_events', ''); return null; end \$\$;
create trigger gs_events_notify after insert on gs_events
    for each statement execute function gs_events_notify();"

# CPU ticks of the cluster so far: the postmaster (with its reaped children) and its live
# children. Unlike throughput, it does not depend on how much of the machine the run got.
pg_cpu_ticks() {
  python3 - "$(head -1 "$work/data/postmaster.pid")" <<'PY'
import os, sys
pm = sys.argv[1]
def fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()
total = sum(int(x) for x in fields(pm)[11:15])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        f = fields(pid)
    except OSError:
        continue
    if pid != pm and f[1] == pm:
        total += int(f[11]) + int(f[12])
print(total)
PY
}
wal_lsn() { "${psql[@]}" -d postgres -At -c "select pg_current_wal_lsn() - '0/0'::pg_lsn"; }
hz="$(getconf CLK_TCK)"

echo "| round | clients | variant | pairs/s | PostgreSQL CPU µs per pair | WAL bytes per pair | load average |"
echo "|---:|---:|---|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  for clients in $CLIENTS; do
    for variant in $VARIANTS; do
      db="v_$variant"
      "${psql[@]}" -c "drop database if exists $db" 2>/dev/null
      "${psql[@]}" -c "create database $db template base"
      script="$work/scripts/pairs.sql"
      case "$variant" in
        none) script="$work/scripts/pairs_no_outbox.sql" ;;
        outbox) ;;
        trigger) "${psql[@]}" -d "$db" -c "$TRIGGER" ;;
        nogin) "${psql[@]}" -d "$db" -c "drop index gs_events_payload_idx" ;;
        lean) "${psql[@]}" -d "$db" -c "drop index gs_events_payload_idx; drop index gs_events_type_idx" ;;
        minimal) "${psql[@]}" -d "$db" -c "drop index gs_events_payload_idx; drop index gs_events_type_idx; drop index gs_events_correlation_idx" ;;
        *) echo "unknown variant $variant" >&2; exit 2 ;;
      esac
      "${psql[@]}" -d "$db" -c checkpoint
      cpu_before="$(pg_cpu_ticks)"; wal_before="$(wal_lsn)"
      out="$("$PG_BIN/pgbench" -n -M prepared -h 127.0.0.1 -p "$port" -U postgres -f "$script" \
        -c "$clients" -j 2 -T "$SECS" -D inst=inst_b -D asset=ast_b -D key=ak_b "$db" 2>&1)"
      cpu_after="$(pg_cpu_ticks)"; wal_after="$(wal_lsn)"
      tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)"
      pairs="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")"
      per_pair() { python3 -c "print(round(($1) / max(${pairs:-0}, 1)))"; }
      cpu_us="$(per_pair "($cpu_after - $cpu_before) * 1e6 / $hz")"
      wal_bytes="$(per_pair "$wal_after - $wal_before")"
      echo "| $round | $clients | $variant | ${tps:-failed} | $cpu_us | $wal_bytes | $(cut -d' ' -f1 /proc/loadavg) |"
    done
  done
done
