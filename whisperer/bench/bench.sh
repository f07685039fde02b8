#!/usr/bin/env bash
# bench:whisperer — the whisperer against real packets between two network namespaces.
#  (a) read: a pcap of >= 300,000 keep-alive HTTP/1.1 exchanges (wrk against nginx,
#      recorded once, cached) through `spider-whisperer read` and through tshark.
#  (b) live: a fixed-rate load (10,000 req/s) and wrk at its maximum through nginx, with
#      the whisperer capturing in nginx's namespace, against tcpdump -w /dev/null.
# Needs root. Knobs: SPIDER_BENCH_RATE (10000), SPIDER_BENCH_SECONDS (10),
# SPIDER_BENCH_MIN_EXCHANGES (300000), SPIDER_BENCH_PARTS ("read live"), SPIDER_CACHE_DIR,
# SPIDER_BENCH_RUNS (2: the live part is run that many times), SPIDER_BENCH_PROFILE=DIR (CPU profiles of the live runs, DIR/live-fixed.pprof, live-max.pprof),
# SPIDER_BENCH_BIN (a spider-whisperer binary to measure instead of building this tree's:
# an older commit's, to compare under the same load).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
rate="${SPIDER_BENCH_RATE:-10000}"
secs="${SPIDER_BENCH_SECONDS:-10}"
min_exchanges="${SPIDER_BENCH_MIN_EXCHANGES:-300000}"
parts="${SPIDER_BENCH_PARTS:-read live}"
cache="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}"
pcap="$cache/bench/whisperer-http1-keepalive.pcap"

if [[ $(id -u) != 0 ]]; then
  echo "bench:whisperer needs root (network namespaces, capture)" >&2
  exit 1
fi
for tool in ip nginx wrk tcpdump tshark ss /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench:whisperer needs $tool" >&2; exit 1; }
done

work="$(mktemp -d /tmp/spider-bench-whisperer.XXXXXX)"
id=$$
srv="swb$id-srv" cli="swb$id-cli" veths="swb${id}s" vethc="swb${id}c"
a=$((150 + id % 50)) b=$(((id / 50) % 250))
srv_ip="10.$a.$b.1" cli_ip="10.$a.$b.2"
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

uptime_before="$(uptime)"
echo "building..." >&2
bin="${SPIDER_BENCH_BIN:-$("$here/build.sh")}"
echo "whisperer binary: $bin" >&2
(cd "$here" && go test -c -o "$work/helpers" ./integration)

ip netns add "$srv"
ip netns add "$cli"
ip link add "$veths" type veth peer name "$vethc"
ip link set "$veths" netns "$srv"
ip link set "$vethc" netns "$cli"
ip -n "$srv" addr add "$srv_ip/24" dev "$veths"
ip -n "$cli" addr add "$cli_ip/24" dev "$vethc"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "$veths" up
ip -n "$cli" link set "$vethc" up

mkdir -p "$work/html"
printf 'hello from nginx\n' >"$work/html/index.html"
cat >"$work/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1;
pid $work/nginx.pid; error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fcgi; uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server { listen $srv_ip:8080; root $work/html; keepalive_requests 100000000; }
}
NGINX
ip netns exec "$srv" nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
for _ in $(seq 100); do
  ip netns exec "$srv" ss -Hltn src "$srv_ip:8080" | grep -q . && break
  sleep 0.1
done
url="http://$srv_ip:8080/index.html"

# (a) the capture file, recorded once.
exchanges_in() { "$bin" read "$1" | wc -l; }
if [[ ! -s "$pcap" ]]; then
  mkdir -p "$(dirname "$pcap")"
  dur=12
  for attempt in 1 2 3; do
    echo "recording $pcap (wrk ${dur}s)..." >&2
    ip netns exec "$srv" tcpdump -q -i "$veths" -B 131072 -w "$work/rec.pcap" 'tcp port 8080' 2>"$work/tcpdump-rec.log" &
    tp=$!
    sleep 1
    ip netns exec "$cli" wrk -t2 -c32 -d"${dur}s" "$url" >"$work/wrk-rec.txt"
    sleep 1
    kill -INT $tp
    wait $tp || true
    n=$(exchanges_in "$work/rec.pcap")
    echo "  $n exchanges recorded" >&2
    if ((n >= min_exchanges)); then
      mv "$work/rec.pcap" "$pcap"
      break
    fi
    dur=$((dur * 2))
  done
  [[ -s "$pcap" ]] || { echo "could not record $min_exchanges exchanges" >&2; exit 1; }
fi

# Run a command, print "wall_s peak_rss_kb cpu_s" from /usr/bin/time -v.
timed() {
  local out="$1"; shift
  /usr/bin/time -v "$@" >"$out" 2>"$work/time.txt"
  awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); w = (length(t) == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2]}
              /Maximum resident set size/ {r = $2} /User time/ {u = $2} /System time/ {y = $2}
              END {printf "%.2f %d %.2f\n", w, r, u + y}' "$work/time.txt"
}
w_n=0 w_wall=0 w_rss=0 w_cpu=0 t_n=0 t_wall=0 t_rss=0 t_cpu=0
if [[ " $parts " == *" read "* ]]; then
  echo "reading $(du -h "$pcap" | cut -f1) with spider-whisperer read and tshark..." >&2
  read -r w_wall w_rss w_cpu < <(timed "$work/read.jsonl" "$bin" read "$pcap")
  w_n=$(wc -l <"$work/read.jsonl")
  read -r t_wall t_rss t_cpu < <(timed "$work/tshark.txt" tshark -r "$pcap" -Y http.response -T fields -e http.response.code)
  t_n=$(wc -l <"$work/tshark.txt")
fi

# (b) live.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# Start the stand-in agent and the whisperer in dir $1; sets WP and AGENT (pids).
start_whisperer() {
  local d="$1"
  mkdir -p "$d"
  SW_HELPER=agent SW_DIR="$d" SW_ALLOWED_IP="$srv_ip" SW_INSTANCE=spider-bench SW_FILTER='tcp port 8080' \
    SW_COUNT_ONLY=1 SW_AGENT_LISTEN="$cli_ip:9000" SW_MAX_EPS=1000000 SW_MAX_CPU=64 \
    ip netns exec "$cli" "$work/helpers" -test.run='^$' >"$d/agent.log" 2>&1 &
  AGENT=$!
  pids+=($AGENT)
  for _ in $(seq 100); do [[ -e "$d/agent.ready" ]] && break; sleep 0.1; done
  local prof=()
  [[ -n "${SPIDER_BENCH_PROFILE:-}" ]] && mkdir -p "$SPIDER_BENCH_PROFILE" && prof=(SPIDER_CPU_PROFILE="$SPIDER_BENCH_PROFILE/$(basename "$d").pprof")
  env "${prof[@]}" SPIDER_AGENT_URL="http://$cli_ip:9000" SPIDER_INSTANCE=spider-bench \
    ip netns exec "$srv" setpriv --bounding-set=-all,+net_raw --inh-caps=-all --no-new-privs "$bin" >"$d/whisperer.log" 2>&1 &
  WP=$!
  pids+=($WP)
  for _ in $(seq 200); do grep -q '"running"' "$d/states.jsonl" 2>/dev/null && break; sleep 0.1; done
}
stop_whisperer() {
  local d="$1"
  touch "$d/stop"
  for _ in $(seq 300); do kill -0 "$WP" 2>/dev/null || break; sleep 0.1; done
  kill "$AGENT" 2>/dev/null || true
  wait "$AGENT" 2>/dev/null || true
}
# measure PID LOADFN: runs the load (output in $work/load.out); sets CORES and RSS of PID over it.
measure() {
  local p="$1"; shift
  local c0 t0 c1 t1
  c0=$(cpu_ticks "$p"); t0=$(date +%s.%N)
  "$@" >"$work/load.out"
  c1=$(cpu_ticks "$p"); t1=$(date +%s.%N)
  RSS=$(awk '/VmHWM/ {print $2}' "/proc/$p/status")
  CORES=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN {printf "%.3f", (c1 - c0) / hz / (t1 - t0)}')
}
fixed_load() { ip netns exec "$cli" env SW_HELPER=load SW_URL="$url" SW_RATE="$rate" SW_SECONDS="$secs" SW_CONNS=50 "$work/helpers" -test.run='^$'; }
max_load() { ip netns exec "$cli" wrk -t2 -c32 -d"${secs}s" "$url"; }
made_by() { # loadfn -> requests it completed
  if [[ $1 == fixed_load ]]; then sed -E 's/.*"requests":([0-9]+).*/\1/' "$work/load.out"; else awk '/requests in/ {print $1}' "$work/load.out"; fi
}
live_run() { # name loadfn: sets MADE REPORTED CORES RSS
  local d="$work/live-$1"
  start_whisperer "$d"
  measure "$WP" "$2"
  MADE=$(made_by "$2")
  stop_whisperer "$d"
  REPORTED=$(cat "$d/count" 2>/dev/null || echo 0)
  # What the whisperer parsed (stats.exchanges), whether or not the agent took it all.
  CAPTURED=$(grep -o 'stopping ([a-z]*): [0-9]* exchanges' "$d/whisperer.log" | grep -o '[0-9]* exchanges' | cut -d' ' -f1)
}
tcpdump_run() { # loadfn: sets MADE CORES RSS
  ip netns exec "$srv" tcpdump -q -i "$veths" -w /dev/null 'tcp port 8080' 2>/dev/null &
  local tp=$!
  pids+=($tp)
  sleep 1
  measure "$tp" "$1"
  MADE=$(made_by "$1")
  kill -INT "$tp"; wait "$tp" 2>/dev/null || true
}

runs="${SPIDER_BENCH_RUNS:-2}"
live_rows=()  # per run: f_made f_cap f_rep f_cpu f_rss ft_made ft_cpu m_made m_cap m_rep m_cpu m_rss mt_made mt_cpu
if [[ " $parts " == *" live "* ]]; then
  for ((run = 1; run <= runs; run++)); do
    echo "live run $run/$runs at $rate req/s and at maximum, ${secs}s each (load average $(cut -d' ' -f1-3 /proc/loadavg))..." >&2
    rm -rf "$work/live-fixed" "$work/live-max"
    live_run fixed fixed_load; f_made=$MADE f_rep=$REPORTED f_cap=$CAPTURED f_cpu=$CORES f_rss=$RSS
    tcpdump_run fixed_load; ft_made=$MADE ft_cpu=$CORES
    live_run max max_load; m_made=$MADE m_rep=$REPORTED m_cap=$CAPTURED m_cpu=$CORES m_rss=$RSS
    tcpdump_run max_load; mt_made=$MADE mt_cpu=$CORES
    # What the whisperer said about itself (coverage is explained by these).
    for d in fixed max; do
      echo "  whisperer ($d): $(grep -o 'stopping.*' "$work/live-$d/whisperer.log")" >&2
    done
    live_rows+=("$f_made $f_cap $f_rep $f_cpu $f_rss $ft_made $ft_cpu $m_made $m_cap $m_rep $m_cpu $m_rss $mt_made $mt_cpu")
  done
fi

pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f%%", 100 * a / b; else print "n/a"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1fx", a / b; else print "n/a"}'; }
rate_of() { awk -v n="$1" -v s="$2" 'BEGIN {if (s > 0) printf "%d", n / s; else print "n/a"}'; }
# verdict A OP B: PASS when the comparison holds.
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {ok = (op == ">=") ? a >= b : a <= b; print ok ? "PASS" : "FAIL"}'; }
row() { printf '  %-44s %14s %22s %8s %10s %5s\n' "$@"; }
echo
echo "bench:whisperer  $(nproc) cores"
echo "  before: $uptime_before"
echo "  after:  $(uptime)"
if [[ " $parts " == *" read "* ]]; then
  echo
  echo "(a) read $(basename "$pcap") ($(du -h "$pcap" | cut -f1)): $w_n exchanges (tshark: $t_n responses)"
  row figure whisperer "anchor" ratio goal ""
  row "read wall time (s)" "$w_wall" "tshark $t_wall" "$(ratio "$t_wall" "$w_wall")" ">= 10x" "$(verdict "$(awk -v a="$t_wall" -v b="$w_wall" 'BEGIN {print (b > 0) ? a / b : 0}')" ">=" 10)"
  row "read CPU time (s)" "$w_cpu" "tshark $t_cpu" "$(ratio "$t_cpu" "$w_cpu")" "-" ""
  row "read exchanges/s" "$(rate_of "$w_n" "$w_wall")" "tshark $(rate_of "$t_n" "$t_wall")" "" "" ""
  row "read peak RSS (MB)" "$((w_rss / 1024))" "tshark $((t_rss / 1024))" "" "<= 64 MB" "$(verdict "$((w_rss / 1024))" "<=" 64)"
fi
# The issue's anchor: tcpdump at 0.13 cores for 48,800 req/s, scaled to a rate.
issue_tcpdump() { awk -v r="$1" 'BEGIN {printf "%.4f", 0.13 * r / 48800}'; }
run=0
for line in "${live_rows[@]}"; do
  run=$((run + 1))
  read -r f_made f_cap f_rep f_cpu f_rss ft_made ft_cpu m_made m_cap m_rep m_cpu m_rss mt_made mt_cpu <<<"$line"
  m_rate=$(rate_of "$m_made" "$secs")
  echo
  echo "(b) live run $run/$runs, ${secs}s per load; cores = CPU time / wall time of the process"
  row figure whisperer "anchor" ratio goal ""
  row "@ $rate req/s: reported / requests" "$f_rep" "$f_made" "$(pct "$f_rep" "$f_made")" "100%" "$(verdict "$f_rep" ">=" "$f_made")"
  row "@ $rate req/s: parsed (stats.exchanges)" "$f_cap" "$f_made" "$(pct "$f_cap" "$f_made")" "" ""
  row "@ $rate req/s: cores" "$f_cpu" "tcpdump $ft_cpu" "$(ratio "$f_cpu" "$ft_cpu")" "" ""
  row "@ max ($m_rate req/s): reported / requests" "$m_rep" "$m_made" "$(pct "$m_rep" "$m_made")" "" ""
  row "@ max: cores" "$m_cpu" "tcpdump $mt_cpu" "$(ratio "$m_cpu" "$mt_cpu")" "<= 3x" "$(verdict "$(awk -v a="$m_cpu" -v b="$mt_cpu" 'BEGIN {print (b > 0) ? a / b : 999}')" "<=" 3)"
  # For reference only: the goal is against tcpdump in this run (the row above).
  row "@ max: cores vs the issue's tcpdump (reference)" "$m_cpu" "$(issue_tcpdump "$m_rate") (scaled)" "$(ratio "$m_cpu" "$(issue_tcpdump "$m_rate")")" "" ""
  row "peak RSS (MB), 10k / max" "$((f_rss / 1024)) / $((m_rss / 1024))" "" "" "<= 64 MB" "$(verdict "$(((f_rss > m_rss ? f_rss : m_rss) / 1024))" "<=" 64)"
  row "tcpdump run at max: requests/s" "" "$(rate_of "$mt_made" "$secs")" "" "" ""
done
