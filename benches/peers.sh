#!/usr/bin/env bash
# The reference server beside socat and ncat echo peers, loaded by `sockcheck bench` in one run.
# Usage: bash benches/peers.sh [SECS]   (SECS per run, default 3; 18 runs)
# Needs socat, ncat (nmap's), coreutils' stdbuf and python3; on Debian/Ubuntu:
#   sudo apt-get install socat ncat
# Prints one line per run: target, conns, size, requests/s, MiB/s, p50/p99 latency, errors.
# Figures and how to read them: benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
for tool in socat ncat stdbuf python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "peers.sh: $tool not found (see the header of $0)" >&2; exit 2; }
done
cargo build --release -q -p sockcheck
bin=$PWD/target/release/sockcheck

run() { # NAME TRANSFORM CONNS SIZE CMD
    local name=$1 transform=$2 conns=$3 size=$4 cmd=$5 json
    json=$("$bin" bench --spawn "$cmd" --transform "$transform" --conns "$conns" --size "$size" \
        --duration "$secs" --json) || true
    printf '%-28s conns %3s size %6s  %s\n' "$name" "$conns" "$size" "$(printf '%s' "$json" | python3 -c '
import json, sys
r = json.load(sys.stdin)
l = r["latency_us"]
print("%9.0f req/s %8.1f MiB/s  p50 %7.1f us  p99 %8.1f us  errors %d" % (
    r["requests_per_sec"], r["mib_per_sec"], l["p50"], l["p99"], r["errors"]))')"
}

for load in "1 64" "8 64" "1 65536"; do
    set -- $load
    run "sockcheck concurrent tcp" upper "$1" "$2" "exec $bin serve --mode concurrent --backlog 128 --tcp {addr}"
    run "socat+tr tcp" upper "$1" "$2" "exec socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,backlog=128 EXEC:'stdbuf -o0 tr a-z A-Z'"
    run "sockcheck concurrent unix" upper "$1" "$2" "exec $bin serve --mode concurrent --backlog 128 --unix {path}"
    run "socat+tr unix" upper "$1" "$2" "exec socat UNIX-LISTEN:{path},fork,unlink-early,backlog=128 EXEC:'stdbuf -o0 tr a-z A-Z'"
    run "sockcheck echo tcp" echo "$1" "$2" "exec $bin serve --mode concurrent --transform echo --backlog 128 --tcp {addr}"
    run "ncat --exec cat tcp" echo "$1" "$2" "exec ncat -l -k 127.0.0.1 {port} --exec /bin/cat"
done
