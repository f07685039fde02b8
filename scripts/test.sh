#!/usr/bin/env bash
# Runs every test: type check, unit tests, backend integration tests on SQLite and a real
# PostgreSQL, agent/chart/DNS tests against a real Kubernetes control plane (built from
# the Go module proxy and cached outside the checkout), and the browser journeys in
# Debian's Chromium. Needs Node (with npm) and Go; installs Debian packages when root.
source "$(dirname "$0")/toolchain.sh"
cd "$repo_root"
started=$(date +%s)
step() { echo; echo "━━ $* ($(( $(date +%s) - started )) s)"; }

step "System packages"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v dig >/dev/null || need+=(dnsutils)
command -v dnsperf >/dev/null || need+=(dnsperf)
# Capture and the real node: packets between network namespaces, containers, CNI.
for tool in tcpdump:tcpdump tshark:tshark wrk:wrk nghttp:nghttp2-client nghttpd:nghttp2-server \
  containerd:containerd runc:runc iptables:iptables nft:nftables nginx:nginx-light socat:socat curl:curl jq:jq; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -f /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
[ -f /usr/lib/x86_64-linux-gnu/libdbus-1.a ] || need+=(libdbus-1-dev)
# The real node's test image: Debian's static busybox.
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "› apt-get install ${need[*]}"
    (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null)
  else
    echo "✗ Missing Debian packages: ${need[*]} (install them, or run as root)" >&2
    exit 1
  fi
fi

step "Install dependencies"
yarn install --immutable

step "Type check, lint and formatting"
# Emits declarations too (dist-types): the package builds below take their types there.
yarn tsc
yarn backstage-cli repo lint
yarn prettier --check . || { echo "✗ Run: yarn prettier --write <the files above>" >&2; exit 1; }
# The REST spec is the source of the router's and the client's generated code: no drift.
node scripts/generate-openapi.mjs --check

step "Published packages: build, pack, and what the tarballs hold"
node scripts/check-packages.mjs --skip-tsc

cleanup() {
  set +e
  [ -n "${plane_state:-}" ] && e2e/cluster/plane --state "$plane_state" --port "$plane_port" down >/dev/null 2>&1
  declare -F stop_postgres >/dev/null && stop_postgres
}
trap cleanup EXIT

step "Whisperer (Go): vet, unit tests, fuzz, real packets between network namespaces"
SPIDER_FUZZ_TIME="${SPIDER_FUZZ_TIME:-10s}" whisperer/test.sh
step "Agent DNS fast path (Go): vet, unit tests, fuzz"
SPIDER_FUZZ_TIME="${SPIDER_FUZZ_TIME:-10s}" controller-agent/dnsfast/test.sh
step "Images and demo services (Go)"
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
(cd images && go vet ./... && go test -count=1 ./...)
(cd demo && go vet ./... && go test -count=1 ./...)

step "PostgreSQL"
source scripts/postgres.sh

step "Kubernetes control plane"
if [ -n "${SPIDER_TEST_KUBECONFIG:-}" ]; then
  echo "› Using the cluster of SPIDER_TEST_KUBECONFIG=$SPIDER_TEST_KUBECONFIG"
else
  e2e/cluster/build.sh
  plane_port="${SPIDER_PLANE_PORT:-26443}"
  plane_state="$(mktemp -d /tmp/spider-plane.XXXXXX)"
  # As root the plane gains a real node (containerd, kubelet, kube-proxy, CoreDNS) where
  # pods and whisperers really run; kwok nodes stay for scale.
  real_nodes=0
  [ "$(id -u)" = 0 ] && real_nodes=1
  e2e/cluster/plane --state "$plane_state" --port "$plane_port" --real-nodes "$real_nodes" --watch-pid $$ up
  # The tests reuse this running plane (and learn its real node from its state).
  export SPIDER_PLANE_STATE="$plane_state"
fi

step "Tests"
# Two workers: the machines have two cores, and the control plane is shared.
CI=true yarn backstage-cli repo test --maxWorkers=2 "$@"

step "Browser journey (Debian Chromium against the built portal)"
yarn workspace @spider/e2e journey

step "All tests passed in $(( $(date +%s) - started )) s"
