#!/usr/bin/env bash
# Builds the local Kubernetes control plane from the Go module proxy, once:
#   kube-apiserver, kube-controller-manager, kube-scheduler, and for the real node
#   kubelet, kube-proxy and kubectl (k8s.io/kubernetes),
#   etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok), helm (helm.sh/helm/v3).
# Binaries are cached outside the checkout in
#   ${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/plane/<versions-key>/bin
# and a second run returns at once. The time of the first build is printed and
# kept in <versions-key>/build-seconds.
#
# Usage: build.sh [--print-bin]   (--print-bin: only print the bin dir, building if needed)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"

PRINT_BIN_ONLY=0
[[ "${1:-}" == "--print-bin" ]] && PRINT_BIN_ONLY=1

log() { if [[ $PRINT_BIN_ONLY == 1 ]]; then echo "$*" >&2; else echo "$*"; fi; }

have_all() {
  local b
  for b in "${PLANE_BINARIES[@]}"; do [[ -x "$PLANE_BIN/$b" ]] || return 1; done
}

if have_all; then
  if [[ $PRINT_BIN_ONLY == 1 ]]; then echo "$PLANE_BIN"; exit 0; fi
  log "plane binaries cached in $PLANE_BIN"
  [[ -f "$PLANE_CACHE/build-seconds" ]] && log "(first build took $(cat "$PLANE_CACHE/build-seconds")s)"
  exit 0
fi

if [[ -n "${SPIDER_PLANE_BIN:-}" ]]; then
  echo "SPIDER_PLANE_BIN=$SPIDER_PLANE_BIN lacks some of: ${PLANE_BINARIES[*]}" >&2
  exit 1
fi

GO="${GO:-$(command -v go || true)}"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
[[ -n "$GO" ]] || { echo "go not found: install Go >= 1.26 or set GO=/path/to/go" >&2; exit 1; }

mkdir -p "$PLANE_CACHE"
# One build at a time per versions key (parallel test files may all ask for it).
exec 9>"$PLANE_CACHE/.build.lock"
if ! flock -n 9; then
  log "another build of $PLANE_VERSIONS_KEY is running; waiting for it"
  flock 9
fi
if have_all; then
  [[ $PRINT_BIN_ONLY == 1 ]] && echo "$PLANE_BIN"
  exit 0
fi

STAGE="$PLANE_CACHE/bin.partial"
LOGS="$PLANE_CACHE/build-logs"
mkdir -p "$STAGE" "$LOGS" "$PLANE_BIN"

export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false"
# -p 2: this machine class has two cores; two build lanes below share them.
BUILD_FLAGS=(-trimpath -p 2)
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

k8s_ldflags() {
  local v="$K8S_VERSION" major minor
  major="$(echo "${v#v}" | cut -d. -f1)"
  minor="$(echo "${v#v}" | cut -d. -f2)"
  local f="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    f+=" -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
  done
  echo "$f"
}

build_k8s() {
  (cd "$HERE/go/kubernetes" && "$GO" build "${BUILD_FLAGS[@]}" -ldflags "$(k8s_ldflags)" -o "$STAGE/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  (cd "$HERE/go/etcd" && "$GO" build "${BUILD_FLAGS[@]}" -ldflags "-s -w" -o "$STAGE/etcd" .)
}

build_kwok() {
  GOBIN="$STAGE" "$GO" install "${BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

build_helm() {
  GOBIN="$STAGE" "$GO" install "${BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

run_logged() { # name fn
  local name="$1" fn="$2" t0=$SECONDS
  if "$fn" >"$LOGS/$name.log" 2>&1; then
    log "  built $name in $((SECONDS - t0))s"
  else
    echo "build of $name failed; last lines of $LOGS/$name.log:" >&2
    tail -40 "$LOGS/$name.log" >&2
    return 1
  fi
}

log "building plane $PLANE_VERSIONS_KEY with $("$GO" version) (first build: tens of minutes on 2 cores)"
T0=$SECONDS
# Two lanes: the big Kubernetes build, and the small ones one after another.
run_logged kubernetes build_k8s &
LANE_A=$!
( run_logged etcd build_etcd && run_logged kwok build_kwok && run_logged helm build_helm ) &
LANE_B=$!
FAIL=0
wait $LANE_A || FAIL=1
wait $LANE_B || FAIL=1
[[ $FAIL == 0 ]] || { echo "plane build failed" >&2; exit 1; }

for b in "${PLANE_BINARIES[@]}"; do
  [[ -x "$STAGE/$b" ]] || { echo "build produced no $b in $STAGE" >&2; exit 1; }
  mv -f "$STAGE/$b" "$PLANE_BIN/$b"
done
rmdir "$STAGE" 2>/dev/null || true
ELAPSED=$((SECONDS - T0))
echo "$ELAPSED" >"$PLANE_CACHE/build-seconds"
log "plane binaries built in ${ELAPSED}s into $PLANE_BIN"
[[ $PRINT_BIN_ONLY == 1 ]] && echo "$PLANE_BIN"
exit 0
