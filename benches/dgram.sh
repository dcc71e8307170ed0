#!/usr/bin/env bash
# `sockcheck bench --udp | --unix-dgram` against `sockcheck serve` and the baseline echo
# (`dgram-echo`: a blocking recv_from/send_to loop in Rust, no transform), side by side in one
# run; socat (`UDP-RECVFROM:PORT,fork EXEC:cat`, a process per datagram) as a secondary figure
# when it is installed. Usage: bash benches/dgram.sh [SECS]   (SECS per run, default 3)
# Prints one line per run: target, clients, size, round trips/s, p50/p99 latency, loss, errors.
# With taskset and two CPUs or more, every server runs on the last CPU and the load on the first, so
# that each run has the same placement (left to the scheduler, one-client figures flip by 5x).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
command -v python3 >/dev/null 2>&1 || { echo "dgram.sh: python3 not found" >&2; exit 2; }
cargo build --release -q -p sockcheck -p sockcheck-benches --bin sockcheck --bin dgram-echo
bin=$PWD/target/release/sockcheck
echo_bin=$PWD/target/release/dgram-echo
server_cpu=() client_cpu=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    server_cpu=(taskset -c "$(($(nproc) - 1))") client_cpu=(taskset -c 0)
fi
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT

start() { # NAME CMD...: run CMD in the background, wait (10 s at most) for its `listening on` line
    local name=$1 i
    shift
    "${server_cpu[@]}" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
    pids+=($!)
    for i in $(seq 100); do
        grep -q '^listening on ' "$dir/$name.out" 2>/dev/null && break
        sleep 0.1
    done
    sed -n 's/^listening on //p' "$dir/$name.out" | head -1
}

run() { # NAME TRANSFORM CLIENTS SIZE FLAG ADDR
    local json
    json=$("${client_cpu[@]}" "$bin" bench "$5" "$6" --transform "$2" --conns "$3" --size "$4" --duration "$secs" --json) || true
    printf '%-24s clients %2s size %5s  %s\n' "$1" "$3" "$4" "$(printf '%s' "$json" | python3 -c '
import json, sys
r = json.load(sys.stdin)
l = r["latency_us"]
print("%8.0f req/s  p50 %7.1f us  p99 %8.1f us  lost %d (%.2f%%)  errors %d" % (
    r["requests_per_sec"], l["p50"], l["p99"], r["lost"], r["loss_percent"], r["errors"]))')"
}

serve_udp=$(start serve-udp "$bin" serve --udp 127.0.0.1:0)
echo_udp=$(start echo-udp "$echo_bin" udp://127.0.0.1:0)
serve_unix=$(start serve-unix "$bin" serve --unix-dgram "$dir/serve.sock")
echo_unix=$(start echo-unix "$echo_bin" "unix-dgram:$dir/echo.sock")
socat_udp=
if command -v socat >/dev/null 2>&1; then
    port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${server_cpu[@]}" socat "UDP-RECVFROM:$port,bind=127.0.0.1,fork" EXEC:cat 2>"$dir/socat.err" &
    pids+=($!)
    hex=$(printf ':%04X ' "$port")
    for i in $(seq 100); do grep -q "$hex" /proc/net/udp && break; sleep 0.1; done
    socat_udp=127.0.0.1:$port
fi

for load in "1 64" "4 64" "1 8192"; do
    set -- $load
    run "sockcheck serve udp" upper "$1" "$2" --udp "${serve_udp#udp://}"
    run "recvfrom-echo udp" echo "$1" "$2" --udp "${echo_udp#udp://}"
    [ -n "$socat_udp" ] && run "socat fork+cat udp" echo "$1" "$2" --udp "$socat_udp"
    run "sockcheck serve unix-dgram" upper "$1" "$2" --unix-dgram "${serve_unix#unix-dgram:}"
    run "recvfrom-echo unix-dgram" echo "$1" "$2" --unix-dgram "${echo_unix#unix-dgram:}"
done
