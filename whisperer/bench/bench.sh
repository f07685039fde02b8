#!/usr/bin/env bash
# bench:whisperer — the whisperer against real packets between two network namespaces.
#  (a) read: a pcap of >= 300,000 keep-alive HTTP/1.1 exchanges (wrk against nginx,
#      recorded once, cached) through `spider-whisperer read` and through tshark.
#  (b) live: a fixed-rate load (10,000 req/s) and wrk at its maximum through nginx, with
#      the whisperer capturing in nginx's namespace, against tcpdump -w /dev/null.
# Needs root. Knobs: SPIDER_BENCH_RATE (10000), SPIDER_BENCH_SECONDS (10),
# SPIDER_BENCH_MIN_EXCHANGES (300000), SPIDER_BENCH_PARTS ("read live"), SPIDER_CACHE_DIR.
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

echo "building..." >&2
bin="$("$here/build.sh")"
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
  SPIDER_AGENT_URL="http://$cli_ip:9000" SPIDER_INSTANCE=spider-bench \
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

f_cap=0 m_cap=0 f_made=0 f_rep=0 f_cpu=0 f_rss=0 ft_made=0 ft_cpu=0 ft_rss=0 m_made=0 m_rep=0 m_cpu=0 m_rss=0 mt_made=0 mt_cpu=0 mt_rss=0
if [[ " $parts " == *" live "* ]]; then
  echo "live at $rate req/s and at maximum, ${secs}s each..." >&2
  live_run fixed fixed_load; f_made=$MADE f_rep=$REPORTED f_cap=$CAPTURED f_cpu=$CORES f_rss=$RSS
  tcpdump_run fixed_load; ft_made=$MADE ft_cpu=$CORES ft_rss=$RSS
  live_run max max_load; m_made=$MADE m_rep=$REPORTED m_cap=$CAPTURED m_cpu=$CORES m_rss=$RSS
  tcpdump_run max_load; mt_made=$MADE mt_cpu=$CORES mt_rss=$RSS
  # What the whisperer said about itself (coverage is explained by these).
  for d in fixed max; do
    echo "  whisperer ($d): $(grep -o 'stopping.*' "$work/live-$d/whisperer.log")" >&2
  done
fi

pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f%%", 100 * a / b; else print "n/a"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1fx", a / b; else print "n/a"}'; }
rate_of() { awk -v n="$1" -v s="$2" 'BEGIN {if (s > 0) printf "%d", n / s; else print "n/a"}'; }
echo
echo "bench:whisperer  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "(a) read $(basename "$pcap") ($(du -h "$pcap" | cut -f1))"
printf '  %-24s %12s %10s %10s %14s %12s\n' "" exchanges wall_s cpu_s exchanges/s peak_RSS_MB
printf '  %-24s %12s %10s %10s %14s %12s\n' "spider-whisperer read" "$w_n" "$w_wall" "$w_cpu" "$(rate_of "$w_n" "$w_wall")" "$((w_rss / 1024))"
printf '  %-24s %12s %10s %10s %14s %12s\n' "tshark -Y http.response" "$t_n" "$t_wall" "$t_cpu" "$(rate_of "$t_n" "$t_wall")" "$((t_rss / 1024))"
echo "  read is $(ratio "$t_wall" "$w_wall") faster than tshark in wall time, $(ratio "$t_cpu" "$w_cpu") in CPU time (goal >= 10x, RSS <= 64 MB)"
echo
echo "(b) live, ${secs}s per run"
printf '  %-30s %10s %10s %10s %10s %8s %8s\n' "" requests captured reported coverage cores RSS_MB
printf '  %-30s %10s %10s %10s %10s %8s %8s\n' "whisperer @ $rate req/s" "$f_made" "$f_cap" "$f_rep" "$(pct "$f_rep" "$f_made")" "$f_cpu" "$((f_rss / 1024))"
printf '  %-30s %10s %10s %10s %10s %8s %8s\n' "tcpdump -w /dev/null @ $rate" "$ft_made" "-" "-" "-" "$ft_cpu" "$((ft_rss / 1024))"
printf '  %-30s %10s %10s %10s %10s %8s %8s\n' "whisperer @ max (wrk)" "$m_made" "$m_cap" "$m_rep" "$(pct "$m_rep" "$m_made")" "$m_cpu" "$((m_rss / 1024))"
printf '  %-30s %10s %10s %10s %10s %8s %8s\n' "tcpdump -w /dev/null @ max" "$mt_made" "-" "-" "-" "$mt_cpu" "$((mt_rss / 1024))"
echo "  captured: parsed by the whisperer (stats.exchanges); reported: taken by the stand-in agent"
echo "  whisperer/tcpdump CPU: $(ratio "$f_cpu" "$ft_cpu") at $rate req/s, $(ratio "$m_cpu" "$mt_cpu") at max (goal <= 3x, RSS <= 64 MB, 100% at $rate req/s)"
echo "  max rates: whisperer run $(rate_of "$m_made" "$secs") req/s, tcpdump run $(rate_of "$mt_made" "$secs") req/s"
