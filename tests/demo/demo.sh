#!/usr/bin/env bash
# tests/demo/demo.sh — the side-by-side demo behind `scripts/grun demo`.
#
# Runs the thread-per-connection demo_server twice, natively and under
# libgrun (through scripts/grun), each time loaded by demo_loadgen (always
# native, its own process) with CONNS connections x REQUESTS requests, and
# prints one table: threads the server created, its peak OS threads (sampled
# from /proc/PID/status), peak open connections, requests/s, p50/p99/max
# latency and peak RSS (VmHWM), with the ratio libgrun/native. A side that
# fails shows "failed" instead of numbers; nothing unmeasured is printed.
# Builds what it needs first (scripts/setup if there is no build yet).
#
# Usage: tests/demo/demo.sh [--conns N] [--requests N]
# Exit status: 0 if both sides answered every request correctly, else 1.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
bin=$root/build/tests/demo
lib=$root/build/libgrun.so
conns=200 requests=500

usage() { echo "usage: grun demo [--conns N] [--requests N]   (default 200 x 500)"; }
while [ $# -gt 0 ]; do
	case $1 in
	--conns|--requests)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "grun demo: $1 needs a positive integer" >&2; usage >&2; exit 2; }
		[ "$1" = --conns ] && conns=$2 || requests=$2
		shift 2 ;;
	--conns=*|--requests=*) opt=${1%%=*}; val=${1#*=}; shift; set -- "$opt" "$val" "$@" ;;
	-h|--help) usage; exit 0 ;;
	*) echo "grun demo: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done

declare -A res why   # res[SIDE.KEY]: measured values; why[SIDE]: why SIDE has none

# --- build (output to stderr) --------------------------------------------
if [ ! -f "$lib" ] || [ ! -f "$root/build/build.ninja" ]; then
	echo "grun demo: $lib is missing; building with scripts/setup" >&2
	"$root/scripts/setup" >&2 || echo "grun demo: scripts/setup failed" >&2
fi
ninja -C "$root/build" tests/demo/demo_server tests/demo/demo_loadgen >&2 ||
	{ echo "grun demo: cannot build the demo programs" >&2; exit 1; }
# The libgrun side runs the library of the current source or not at all.
ninja -C "$root/build" libgrun.so >&2 || why[libgrun]="libgrun.so does not build (ninja -C build libgrun.so)"

# Generous limits (at least 1000 requests/s expected) so it always ends.
limit=$((60 + conns * requests / 1000))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | head -n 1; }   # val FILE KEY
scaled() { awk -v x="$1" -v d="$2" -v f="$3" 'BEGIN { printf f, x / d }'; }   # scaled X DIVISOR FORMAT

# run SIDE: one server + load generator run; fills res[SIDE.*] or why[SIDE].
run() {
	local side=$1 dir=$tmp/$1 spid port="" src=0 lrc=0 i server
	mkdir -p "$dir"
	case $side in
	native)  server=(env -u LD_PRELOAD "$bin/demo_server") ;;
	libgrun) server=("$root/scripts/grun" -- "$bin/demo_server") ;;
	esac
	echo "grun demo: $side: $conns connections x $requests requests ..." >&2
	"${server[@]}" --conns "$conns" --port-file "$dir/port" --timeout "$limit" \
		>"$dir/server.out" 2>"$dir/server.err" &
	spid=$!
	for ((i = 0; i < 200; i++)); do   # up to 20 s for the port file
		[ -s "$dir/port" ] && { port=$(cat "$dir/port"); break; }
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" || src=$?
		why[$side]="server did not start (exit status $src): $(tail -n 3 "$dir/server.err" | tr '\n' ' ')"
		return
	fi
	env -u LD_PRELOAD timeout -k 5 $((limit + 10)) "$bin/demo_loadgen" --port "$port" \
		--conns "$conns" --requests "$requests" --pid "$spid" --timeout 60 \
		>"$dir/load.out" 2>"$dir/load.err" || lrc=$?
	wait "$spid" || src=$?

	local s=$dir/server.out l=$dir/load.out
	if [ "$(val "$s" ok)" != 1 ] || [ "$(val "$l" ok)" != 1 ]; then
		why[$side]="server exit status $src, load generator exit status $lrc,"
		why[$side]+=" $(val "$l" errors) of $((conns * requests)) requests failed;"
		why[$side]+=" $(cat "$dir/server.err" "$dir/load.err" | head -n 4 | tr '\n' ' ')"
		return
	fi
	if [ "$(val "$s" runtime)" != "$side" ]; then
		why[$side]="server ran on $(val "$s" runtime) threads, not $side: $(head -n 2 "$dir/server.err" | tr '\n' ' ')"
		return
	fi
	res[$side.created]=$(val "$s" threads_created)
	res[$side.os]=$(val "$l" server_peak_threads)
	res[$side.conns]=$(val "$s" peak_open_conns)
	res[$side.rps]=$(val "$l" rps)
	res[$side.p50]=$(scaled "$(val "$l" p50_us)" 1000 %.2f)
	res[$side.p99]=$(scaled "$(val "$l" p99_us)" 1000 %.2f)
	res[$side.max]=$(scaled "$(val "$l" max_us)" 1000 %.2f)
	res[$side.rss]=$(scaled "$(val "$s" vmhwm_kb)" 1024 %.1f)
}

run native
[ -n "${why[libgrun]:-}" ] || run libgrun

# --- table ---------------------------------------------------------------
cell() { if [ -n "${why[$1]:-}" ]; then echo failed; else echo "${res[$1.$2]:--}"; fi; }
ratio() {
	local n=${res[native.$1]:-} g=${res[libgrun.$1]:-}
	if [ -n "${why[native]:-}${why[libgrun]:-}" ] || [ -z "$n" ] || [ -z "$g" ]; then echo -; return; fi
	awk -v n="$n" -v g="$g" 'BEGIN { if (n <= 0) { print "-"; exit }
		r = g / n; printf(r >= 10 ? "%.1fx" : r >= 0.1 ? "%.2fx" : "%.2gx", r) }'
}
echo
echo "grun demo: thread-per-connection server, $conns connections x $requests requests" \
	"(replies of 1..4096 bytes), $(nproc) CPUs"
printf '%-26s %12s %12s %15s\n' "" native libgrun libgrun/native
for row in "created:threads created" "os:OS threads (peak)" "conns:connections (peak open)" \
	"rps:requests/s" "p50:p50 latency (ms)" "p99:p99 latency (ms)" "max:max latency (ms)" \
	"rss:peak RSS (MiB)"; do
	key=${row%%:*}
	printf '%-26s %12s %12s %15s\n' "${row#*:}" "$(cell native "$key")" "$(cell libgrun "$key")" "$(ratio "$key")"
done

status=0
for side in native libgrun; do
	[ -z "${why[$side]:-}" ] || { echo "$side FAILED: ${why[$side]}"; status=1; }
done
if [ $status = 0 ]; then
	echo "Every one of the $((conns * requests)) replies was verified on both sides."
	# What is worse under libgrun, ignoring differences under 10% (run-to-run
	# noise here).
	worse=$(awk -v nr="${res[native.rps]}" -v gr="${res[libgrun.rps]}" -v np="${res[native.p99]}" \
		-v gp="${res[libgrun.p99]}" -v nm="${res[native.max]}" -v gm="${res[libgrun.max]}" 'BEGIN {
		if (gr < 0.9 * nr) w[++n] = "the lower requests/s"
		if (gp > 1.1 * np) w[++n] = "the higher p99"
		if (gm > 1.1 * nm) w[++n] = "the higher max latency"
		for (i = 1; i <= n; i++) printf "%s%s", (i == 1 ? "" : i == n ? " and " : ", "), w[i] }')
	# What the runtime does today (shims/io.c): blocking socket I/O parks the
	# green thread on the netpoller (epoll), so a waiting connection holds no
	# OS thread. Only what the table shows is claimed below.
	os=${res[libgrun.os]:-0} open=${res[libgrun.conns]}
	echo "Note: under libgrun a connection waiting in read() parks its green thread on the netpoller" \
		"(epoll) instead of holding an OS thread: $open connections ran on at most $os OS threads" \
		"(GRUN_MAXPROCS ${GRUN_MAXPROCS:-$(nproc)}), natively on ${res[native.os]}."
	if [ -n "$worse" ]; then
		echo "libgrun is worse here in $worse."
		# Median lower but tail higher: say so, with the numbers.
		awk -v np="${res[native.p50]}" -v gp="${res[libgrun.p50]}" -v n9="${res[native.p99]}" \
			-v g9="${res[libgrun.p99]}" 'BEGIN { if (gp < np && g9 > 1.1 * n9)
			printf "Its median latency is lower than native'"'"'s (%s vs %s ms) but its p99 is higher" \
				" (%s vs %s ms): the waiting is shared less evenly between the requests than when" \
				" the kernel time-slices one thread per connection.\n", gp, np, g9, n9 }'
		if awk -v nr="${res[native.rps]}" -v gr="${res[libgrun.rps]}" 'BEGIN { exit !(gr < 0.9 * nr) }'; then
			echo "Its requests/s are lower: at $open connections the kernel switching between" \
				"${res[native.os]} threads costs less than what libgrun's scheduler and netpoller add" \
				"per request (a green-thread switch, often an epoll wake-up). Try more connections" \
				"(--conns 2000) or scripts/bench -k echo (1k to 19k connections)."
		fi
	fi
fi
exit $status
