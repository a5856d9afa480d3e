#!/usr/bin/env bash
# tests/bench/server_gc.sh — a real server under load with each collector
# mode (issue 7's overhead goal): Debian's redis-server, natively and under
# libgrun with GRUN_GC=off, leak, quarantine and collect, driven by
# redis-benchmark (always native) on 127.0.0.1.
#
#   tests/bench/server_gc.sh LIBGRUN_SO SIDE [REQUESTS]
#     SIDE: native | off | leak | quarantine | collect
#
# Load: redis-benchmark -c 50 -d 256 -r 100000 -n REQUESTS (default
# 200000) for SET, GET, LPUSH, LPOP and INCR, after a warm-up of 20000
# SETs. Each value is a fresh 256-byte allocation in the server, each key
# one of 100000, so the server's heap churns with a live set of ~40 MB.
# Prints one line:
#   RESULT name=server_gc side=SIDE set=RPS get=RPS lpush=RPS lpop=RPS
#          incr=RPS peak_rss_kb=N ok=1
# (requests per second, higher is better; the server's VmHWM just before
# SHUTDOWN NOSAVE), or why it failed on stderr, exit 1.
set -uo pipefail

lib=${1:-} side=${2:-} n=${3:-200000}
case $side in native|off|leak|quarantine|collect) ;; *)
	echo "usage: server_gc.sh LIBGRUN_SO native|off|leak|quarantine|collect [REQUESTS]" >&2; exit 2 ;;
esac
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
	{ echo "server_gc: redis-server and redis-benchmark are not installed" >&2; exit 1; }
unset LD_PRELOAD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grun-sgc.XXXXXX") || exit 1
spid=""
trap '[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT
die() { echo "server_gc ($side): $*" >&2; [ -s "$tmp/err" ] && tail -n 5 "$tmp/err" >&2; exit 1; }

port=""
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 10000))
	[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { port=$p; break; }
done
[ -n "$port" ] || die "no free port found"

args=(redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --daemonize no)
if [ "$side" = native ]; then
	"${args[@]}" >"$tmp/out" 2>"$tmp/err" &
else
	LD_PRELOAD=$lib GRUN_GC=$side "${args[@]}" >"$tmp/out" 2>"$tmp/err" &
fi
spid=$!
for _ in $(seq 1 100); do
	[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break
	sleep 0.1
done
[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] || die "the server did not answer PING"
if [ "$side" != native ] && ! grep -q libgrun "/proc/$spid/maps"; then
	die "libgrun is not loaded in the server"
fi

bench() { redis-benchmark -p "$port" -c 50 -d 256 -r 100000 --csv "$@"; }
bench -n 20000 -t set >/dev/null || die "warm-up failed"
bench -n "$n" -t set,get,lpush,lpop,incr >"$tmp/csv" || die "redis-benchmark failed"
peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$spid/status")
redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$spid"
rc=$?
spid=""
[ $rc -eq 0 ] || die "the server exited with status $rc"

# CSV: "test","rps",...; LPUSH/LPOP appear as "LPUSH"/"LPOP".
awk -F'"' -v side="$side" -v peak="$peak" '
	$2 == "SET" { s = $4 } $2 == "GET" { g = $4 } $2 == "LPUSH" { lp = $4 }
	$2 == "LPOP" { lo = $4 } $2 == "INCR" { in_ = $4 }
	END {
		if (s == "" || g == "" || lp == "" || lo == "" || in_ == "" || peak == "") exit 1
		printf "RESULT name=server_gc side=%s set=%s get=%s lpush=%s lpop=%s incr=%s peak_rss_kb=%s ok=1\n",
			side, s, g, lp, lo, in_, peak
	}' "$tmp/csv" || die "could not read redis-benchmark's results: $(head -c 300 "$tmp/csv")"
