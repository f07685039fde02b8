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

step "Type check and lint"
yarn tsc --noEmit
yarn backstage-cli repo lint

cleanup() {
  set +e
  [ -n "${plane_state:-}" ] && e2e/cluster/plane --state "$plane_state" --port "$plane_port" down >/dev/null 2>&1
  declare -F stop_postgres >/dev/null && stop_postgres
}
trap cleanup EXIT

step "PostgreSQL"
source scripts/postgres.sh

step "Kubernetes control plane"
if [ -n "${SPIDER_TEST_KUBECONFIG:-}" ]; then
  echo "› Using the cluster of SPIDER_TEST_KUBECONFIG=$SPIDER_TEST_KUBECONFIG"
else
  e2e/cluster/build.sh
  plane_port="${SPIDER_PLANE_PORT:-26443}"
  plane_state="$(mktemp -d /tmp/spider-plane.XXXXXX)"
  e2e/cluster/plane --state "$plane_state" --port "$plane_port" --watch-pid $$ up
  export SPIDER_TEST_KUBECONFIG="$plane_state/kubeconfig"
fi

step "Tests"
# Two workers: the machines have two cores, and the control plane is shared.
CI=true yarn backstage-cli repo test --maxWorkers=2 "$@"

step "Browser journey (Debian Chromium against the built portal)"
yarn workspace @spider/e2e journey

step "All tests passed in $(( $(date +%s) - started )) s"
