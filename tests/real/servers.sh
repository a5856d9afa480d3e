#!/usr/bin/env bash
# tests/real/servers.sh — run one real server from Debian, unmodified, on
# 127.0.0.1 (a free non-default port), natively or under libgrun, drive it
# with its own native client for a bounded time and verify the responses.
# Used by scripts/test (table SERVERS, tests real/<name>_server).
#
#   tests/real/servers.sh memcached|redis native|libgrun LIBGRUN_SO
#
# memcached (multi-threaded: memcached -t 4, libevent worker threads):
#   memccapable   the protocol conformance suite (ascii and binary), every
#                 test must pass;
#   memcaslap     4 s of 90% get / 10% set from 64 connections, 20% of the
#                 gets verified against what was set: no verify failure;
#   memccp/memccat  three files (1 B, 100 KiB, 900 KiB) stored and read
#                 back byte-identical;
#   then the "shutdown" command: memcached must exit 0.
# redis (an event loop: redis-server, plus its background threads):
#   redis-cli PING; redis-benchmark -n 20000 -c 50 for SET, GET, INCR,
#   LPUSH, LPOP and MSET (every test must report requests per second);
#   a SET/GET round trip of a short string and of a 1 MiB value (compared
#   byte for byte), 1000 INCRs then GET = 1000; SHUTDOWN NOSAVE: exit 0.
# The client programs always run natively. Under libgrun the server must
# have libgrun mapped. Prints one summary line (with the server's peak OS
# thread count, sampled every 100 ms) and exits 0, or prints why on stderr
# and exits 1. Everything lives in a temporary directory removed at exit.
set -uo pipefail

name=${1:-} side=${2:-} lib=${3:-}
case $name in memcached|redis) ;; *) echo "usage: servers.sh memcached|redis native|libgrun LIB" >&2; exit 2 ;; esac
case $side in native|libgrun) ;; *) echo "usage: servers.sh memcached|redis native|libgrun LIB" >&2; exit 2 ;; esac
unset LD_PRELOAD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/grun-server.XXXXXX") || exit 1
spid="" sampler=""
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
die() {
    echo "$name ($side): $*" >&2
    for f in "$tmp"/server.err "$tmp"/redis.log; do
        [ -s "$f" ] && tail -n 5 "$f" | sed 's/^/    /' >&2
    done
    exit 1
}

# A port below the ephemeral range that nothing listens on.
port=""
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 10000))
    if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then port=$p; break; fi
done
[ -n "$port" ] || die "no free port found"

# start CMD...: the server in the background, preloaded on the libgrun side.
start() {
    if [ "$side" = libgrun ]; then
        LD_PRELOAD=$lib "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
    else
        "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
    fi
    spid=$!
    local i
    for ((i = 0; i < 100; i++)); do
        [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && break
        kill -0 "$spid" 2>/dev/null || die "server exited before listening"
        sleep 0.1
    done
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] || die "server not listening on $port after 10 s"
    if [ "$side" = libgrun ] && ! grep -q libgrun "/proc/$spid/maps" 2>/dev/null; then
        die "libgrun.so is not mapped into the server"
    fi
    # Peak OS threads, sampled every 100 ms.
    ( peak=0
      while n=$(awk '/^Threads:/ { print $2 }' "/proc/$spid/status" 2>/dev/null) && [ -n "$n" ]; do
          ((n > peak)) && { peak=$n; echo "$peak" >"$tmp/peak"; }
          sleep 0.1
      done ) &
    sampler=$!
}

# stop: wait (up to 20 s) for the server to exit after its shutdown command.
stop() {
    local i rc
    for ((i = 0; i < 200; i++)); do
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$spid" 2>/dev/null && die "server still running 20 s after its shutdown command"
    wait "$spid"
    rc=$?
    spid=""
    [ "$rc" = 0 ] || die "server exited with status $rc after its shutdown command"
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    sampler=""
}

cmd() { timeout -k 5 "$1" "${@:2}"; }   # cmd SECS PROGRAM ARGS...: bounded

if [ "$name" = memcached ]; then
    for p in memcached memccapable memcaslap memccp memccat; do
        command -v $p >/dev/null || die "$p not installed"
    done
    user=()
    [ "$(id -u)" = 0 ] && user=(-u root)
    start memcached "${user[@]}" -t 4 -l 127.0.0.1 -p "$port" -U 0 -c 1024 -m 256 -A

    cmd 60 memccapable -h 127.0.0.1 -p "$port" -t 10 >"$tmp/cap.out" 2>&1 ||
        die "memccapable failed: $(grep -v '\[pass\]' "$tmp/cap.out" | head -n 5 | tr '\n' ' ')"
    grep -q '^All tests passed' "$tmp/cap.out" || die "memccapable did not pass every test"
    ncap=$(grep -c '\[pass\]' "$tmp/cap.out")

    cmd 30 memcaslap -s "127.0.0.1:$port" -T 2 -c 64 -t 4s --verify=0.2 >"$tmp/slap.out" 2>&1 ||
        die "memcaslap failed: $(tail -n 3 "$tmp/slap.out" | tr '\n' ' ')"
    ops=$(sed -n 's/^Run time: .* Ops: \([0-9]*\) TPS: \([0-9]*\).*/\1/p' "$tmp/slap.out")
    tps=$(sed -n 's/^Run time: .* Ops: \([0-9]*\) TPS: \([0-9]*\).*/\2/p' "$tmp/slap.out")
    vfail=$(sed -n 's/^verify_failed: //p' "$tmp/slap.out")
    vmiss=$(sed -n 's/^verify_misses: //p' "$tmp/slap.out")
    gets=$(sed -n 's/^cmd_get: //p' "$tmp/slap.out")
    [ -n "$ops" ] && [ "$ops" -gt 0 ] && [ -n "$gets" ] && [ "$gets" -gt 0 ] ||
        die "memcaslap did no work: $(tail -n 3 "$tmp/slap.out" | tr '\n' ' ')"
    [ "$vfail" = 0 ] && [ "$vmiss" = 0 ] ||
        die "memcaslap: verify_failed=$vfail verify_misses=$vmiss"

    mkdir "$tmp/in" "$tmp/out"
    printf x >"$tmp/in/tiny"
    head -c $((100 << 10)) /dev/urandom >"$tmp/in/mid"
    head -c $((900 << 10)) /dev/urandom >"$tmp/in/big"
    (cd "$tmp/in" && cmd 30 memccp --servers="127.0.0.1:$port" tiny mid big) >"$tmp/cp.out" 2>&1 ||
        die "memccp failed: $(head -n 3 "$tmp/cp.out" | tr '\n' ' ')"
    for f in tiny mid big; do
        cmd 30 memccat --servers="127.0.0.1:$port" "$f" >"$tmp/out/$f" 2>"$tmp/cat.err" ||
            die "memccat $f failed: $(head -n 3 "$tmp/cat.err" | tr '\n' ' ')"
        # memccat ends each value with a newline of its own.
        { cat "$tmp/in/$f"; echo; } | cmp -s - "$tmp/out/$f" || die "memccat $f: value differs from what memccp stored"
    done

    exec 3<>"/dev/tcp/127.0.0.1/$port" || die "cannot connect for shutdown"
    printf 'shutdown\r\n' >&3
    exec 3<&-
    stop
    echo "memcached -t 4 ($side): memccapable $ncap tests passed; memcaslap $ops ops ($tps/s)," \
        "verify_failed=0; memccp/memccat 3 values byte-identical; shutdown exit 0;" \
        "peak OS threads $(cat "$tmp/peak" 2>/dev/null || echo '?')"
    exit 0
fi

# redis
for p in redis-server redis-cli redis-benchmark; do
    command -v $p >/dev/null || die "$p not installed"
done
start redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$tmp" --logfile "$tmp/redis.log"
cli() { cmd 30 redis-cli -p "$port" "$@"; }

[ "$(cli PING)" = PONG ] || die "PING did not answer PONG"
cmd 90 redis-benchmark -p "$port" -q -n 20000 -c 50 -t set,get,incr,lpush,lpop,mset \
    >"$tmp/bench.raw" 2>&1 || die "redis-benchmark failed: $(tail -c 300 "$tmp/bench.raw")"
tr '\r' '\n' <"$tmp/bench.raw" | grep -E '^[A-Z].*: [0-9.]+ requests per second' >"$tmp/bench.out"
for t in SET GET INCR LPUSH LPOP MSET; do
    grep -q "^$t.*requests per second" "$tmp/bench.out" || die "redis-benchmark: no result for $t"
done
grep -qiE 'error|ERR ' "$tmp/bench.raw" && die "redis-benchmark reported errors: $(grep -iE 'error|ERR ' "$tmp/bench.raw" | head -n 2)"
setrps=$(sed -n 's/^SET: \([0-9]*\).*/\1/p' "$tmp/bench.out")

[ "$(cli SET greeting 'hello, world')" = OK ] || die "SET failed"
[ "$(cli --raw GET greeting)" = 'hello, world' ] || die "GET returned something else"
head -c $((768 << 10)) /dev/urandom | base64 -w 0 >"$tmp/big"   # 1 MiB of text
[ "$(cli -x SET big <"$tmp/big")" = OK ] || die "SET of a 1 MiB value failed"
cli --raw GET big >"$tmp/big.got" || die "GET of the 1 MiB value failed"
printf '\n' >>"$tmp/big"   # redis-cli --raw ends the value with a newline
cmp -s "$tmp/big" "$tmp/big.got" || die "the 1 MiB value came back different"
for i in $(seq 1000); do echo "INCR counter"; done | cli >/dev/null || die "INCRs failed"
[ "$(cli GET counter)" = 1000 ] || die "counter is $(cli GET counter) after 1000 INCRs"
cli SHUTDOWN NOSAVE >/dev/null 2>&1   # the connection closes as the server exits
stop
echo "redis-server ($side): redis-benchmark 6 tests (SET $setrps requests/s); SET/GET of a" \
    "string and a 1 MiB value byte-identical; 1000 INCRs counted; shutdown exit 0;" \
    "peak OS threads $(cat "$tmp/peak" 2>/dev/null || echo '?')"
exit 0
