#!/usr/bin/env bash
# Brings the demo cluster up next to a running (or starting) dev portal, the way a newcomer
# would by hand: a plane with one real node, Spider's images built here and imported, the
# demo shop (payments ← checkout), a Controller registered in the portal through its REST
# API, and the agent installed with exactly the command the portal's Install tab renders,
# from a packaged chart. scripts/start.sh runs it in the background; it also runs alone.
#
# Usage: demo/up.sh [--watch-pid PID] [--port N] [--portal URL] [--log FILE]
#   --watch-pid PID  the plane goes down when PID exits (start.sh passes the portal's pid)
#   --port N         the plane's base port (default $SPIDER_DEMO_PORT or 23443)
#   --portal URL     the portal backend (default $SPIDER_PORTAL_URL or http://localhost:7007)
#   --log FILE       everything goes to FILE; only one line per step to the terminal
#   --print-chart    print the packaged chart's path (what start.sh gives the portal) and exit
#
# Every step is idempotent: a second run reuses the plane's
# binaries, the image archives and a running plane.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}"
PORT="${SPIDER_DEMO_PORT:-23443}"
PORTAL="${SPIDER_PORTAL_URL:-http://localhost:7007}"
WATCH_PID="" PRINT_CHART=0 LOG=""
while (($#)); do
  case "$1" in
    --watch-pid) WATCH_PID="${2:?--watch-pid needs a pid}"; shift 2 ;;
    --port) PORT="${2:?--port needs a number}"; shift 2 ;;
    --portal) PORTAL="${2:?--portal needs a URL}"; shift 2 ;;
    --print-chart) PRINT_CHART=1; shift ;;
    --log) LOG="${2:?--log needs a file}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo/up.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
PORTAL_PORT="$(sed -nE 's#^https?://[^/:]+:([0-9]+)/?$#\1#p' <<<"$PORTAL")"
[[ -n "$PORTAL_PORT" ]] || { echo "demo/up.sh: --portal must be http://HOST:PORT" >&2; exit 2; }
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1024 || PORT >= 32768)); then
  echo "demo/up.sh: --port must be 1024..32767" >&2
  exit 2
fi

STATE="/tmp/spider-demo-plane-$PORT"
CHARTS="$CACHE/demo/charts"
NS_AGENT=spider-system
T0=$(date +%s%3N)

# fd 3 is the terminal's one-line-per-step channel when the rest goes to a log.
exec 3>/dev/null
if [[ -n "$LOG" ]] && ((PRINT_CHART == 0)); then
  exec 3>&2 >>"$LOG" 2>&1
fi
say() {
  local m="$* (+$(( ($(date +%s%3N) - T0) / 1000 ))s)"
  echo "[demo] $m" >&3
  echo "=== $(date -u +%H:%M:%S) $m"
}
die() { say "FAILED: $*${LOG:+ (log: $LOG)}"; exit 1; }
alive() { [[ -z "$WATCH_PID" ]] || kill -0 "$WATCH_PID" 2>/dev/null || { echo "=== the portal (pid $WATCH_PID) exited; stopping"; exit 0; }; }

plane() { "$REPO/e2e/cluster/plane" --state "$STATE" --port "$PORT" "$@"; }
kubectl() { "$SPIDER_PLANE_BIN/kubectl" --kubeconfig "$SPIDER_PLANE_KUBECONFIG" "$@"; }

# The chart's packaged name: what the portal's Install tab names (start.sh sets it).
chart_version() { awk '$1 == "version:" { print $2; exit }' "$REPO/controller-agent/chart/Chart.yaml"; }
packaged_chart() { echo "$CHARTS/spider-controller-agent-$(chart_version).tgz"; }
if ((PRINT_CHART)); then packaged_chart; exit 0; fi

# ------------------------------------------------------------------- images
alive
say "building images (first time: a few minutes; cached afterwards)"
# An image that does not build yet (say, the whisperer mid-change) is reported, and the
# rest of the demo still comes up.
"$REPO/images/build.sh" || say "warning: some images did not build (see the log); continuing"

# -------------------------------------------------------------------- plane
alive
if [[ -f "$STATE/plane.env" ]] && plane status >/dev/null 2>&1; then
  say "plane on port $PORT already up"
else
  [[ ! -e "$STATE" ]] || plane down || true
  say "starting the plane with a real node on port $PORT (first time: builds Kubernetes, 10-20 min)"
  watch=()
  [[ -n "$WATCH_PID" ]] && watch=(--watch-pid "$WATCH_PID")
  plane --real-nodes 1 --nodes 0 "${watch[@]}" up || die "plane up failed (logs: $STATE.failed-logs)"
fi
# shellcheck disable=SC1090 # written by plane up
source <(plane env)
[[ "${SPIDER_PLANE_REAL_NODES:-0}" == 1 ]] || die "the plane at $STATE has no real node; take it down: e2e/cluster/plane --state $STATE down"

alive
say "importing images into the node's containerd"
"$REPO/images/build.sh" --import "$SPIDER_PLANE_CONTAINERD_SOCK" || say "warning: some images were not imported (see the log); continuing"

# The demo cluster has only the real node, so the agent (installed exactly as the portal
# renders it, without tolerations) schedules there too.
kubectl taint nodes "$SPIDER_PLANE_NODE_NAME" spider.dev/real-node- >/dev/null 2>&1 || true

# ------------------------------------------------------------------- shop
alive
say "deploying the demo shop (namespace shop: payments ×2, checkout)"
kubectl apply -f "$REPO/demo/manifests/namespace.yaml" -f "$REPO/demo/manifests/payments.yaml" -f "$REPO/demo/manifests/checkout.yaml"

# The agent dials the portal at the name start.sh gives the portal as its external URL: a
# Service without selector whose endpoint is this host as the node sees it.
kubectl apply -f - <<EOF
apiVersion: v1
kind: Service
metadata:
  name: spider-portal
  namespace: default
  labels: {app.kubernetes.io/part-of: spider-demo}
spec:
  ports: [{name: http, port: $PORTAL_PORT, targetPort: $PORTAL_PORT, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: spider-portal-host
  namespace: default
  labels: {kubernetes.io/service-name: spider-portal, app.kubernetes.io/part-of: spider-demo}
addressType: IPv4
ports: [{name: http, port: $PORTAL_PORT, protocol: TCP}]
endpoints: [{addresses: ["$SPIDER_PLANE_HOST_IP"]}]
EOF

# ------------------------------------------------------------------- chart
mkdir -p "$CHARTS"
"$SPIDER_PLANE_BIN/helm" package "$REPO/controller-agent/chart" --destination "$CHARTS" >/dev/null || die "helm package failed"
say "packaged the agent chart: $(packaged_chart)"

# ------------------------------------------------------------------ portal
helm_demo() {
  PATH="$SPIDER_PLANE_BIN:$PATH" KUBECONFIG="$SPIDER_PLANE_KUBECONFIG" HELM_CONFIG_HOME="$CACHE/demo/helm/config" \
    HELM_CACHE_HOME="$CACHE/demo/helm/cache" HELM_DATA_HOME="$CACHE/demo/helm/data" "$@"
}
yaml_json() { python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'; }
guest_token() {
  curl -sf -m 5 -H 'X-Requested-With: XMLHttpRequest' "$PORTAL/api/auth/guest/refresh" | jq -r '.backstageIdentity.token // empty' 2>/dev/null
}
api() { # api METHOD PATH [JSON]
  local args=(-sS -m 30 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -X "$1" -w '\n%{http_code}')
  [[ $# -ge 3 ]] && args+=(--data "$3")
  local out code
  out="$(curl "${args[@]}" "$PORTAL/api/spider$2")" || return 1
  code="${out##*$'\n'}"
  out="${out%$'\n'*}"
  [[ "$code" =~ ^2 ]] || { echo "$1 $2 → $code $out" >&2; return 1; }
  echo "$out"
}

# Sets controller_id and agent_token: the demo Controller, registered now, or its token
# rotated when the portal already has it (this script ran twice).
register() {
  local created
  controller_id="$(api GET /controllers | jq -r '.items[] | select(.name == "demo-cluster") | .id' | head -1)" || return 1
  if [[ -z "$controller_id" ]]; then
    created="$(api POST /controllers '{"name":"demo-cluster","description":"The demo cluster scripts/start.sh runs on this machine (plane with a real node)"}')" || return 1
    controller_id="$(jq -r .id <<<"$created")"
    agent_token="$(jq -r .token <<<"$created")"
    say "registered Controller demo-cluster ($controller_id)"
  else
    agent_token="$(api POST "/controllers/$controller_id/token" '{}' | jq -r .token)" || return 1
    say "Controller demo-cluster exists ($controller_id); token rotated"
  fi
  if ! api GET /whisperers | jq -e '.items[] | select(.name == "demo-http")' >/dev/null; then
    api POST /whisperers '{"name":"demo-http","description":"HTTP/1.1 and gRPC of the demo shop","timeToLive":"PT30M"}' >/dev/null || return 1
  fi
}

# Installs the agent with the command the Install tab renders, and checks the release got
# the values the Install tab renders (the token aside): the release's computed values equal
# the chart's defaults overlaid with the rendered file.
install_agent() {
  local command installed rendered
  command="$(api GET "/controllers/$controller_id/install?format=command" | jq -r .content)" || return 1
  api GET "/controllers/$controller_id/install?format=values" | jq -r .content >"$CACHE/demo/agent-values.yaml" || return 1
  echo "install command (as the Install tab renders it): $command"
  if [[ "$command" != *"helm upgrade --install "*" $(packaged_chart) "* ]]; then
    say "the portal renders a chart other than $(packaged_chart) (start the portal with scripts/start.sh, which sets it): $command"
    return 1
  fi
  say "installing the agent with the Install tab's command"
  # The token on stdin, as the Install tab tells a user to paste it (no command line).
  printf '%s\n' "$agent_token" | helm_demo bash -c "$command" || return 1
  # The token and the Secret holding it are the two values the command adds to the file.
  installed="$(helm_demo helm get values spider-agent --namespace "$NS_AGENT" --all -o json | jq -S 'del(.controls.token, .controls.existingSecret.name)')"
  rendered="$(jq -S -s '.[0] * .[1] | del(.controls.token, .controls.existingSecret.name)' <(helm_demo helm show values "$(packaged_chart)" | yaml_json) \
    <(yaml_json <"$CACHE/demo/agent-values.yaml") 2>/dev/null || echo unknown)"
  if [[ "$installed" == "$rendered" ]]; then
    echo "the release's values are the Install tab's values"
  else
    say "warning: the release's values differ from the Install tab's values (see the log)"
    diff <(echo "$installed") <(echo "$rendered") || true
  fi
}

connected() { [[ "$(api GET "/controllers/$controller_id/status" | jq -r .connected)" == true ]]; }
wait_connected() {
  kubectl -n "$NS_AGENT" rollout status deployment/spider-agent --timeout=180s || return 1
  for _ in $(seq 1 60); do
    connected && return 0
    sleep 2
  done
  return 1
}

alive
say "waiting for the portal backend at $PORTAL"
token=""
for _ in $(seq 1 300); do
  alive
  token="$(guest_token || true)"
  [[ -n "$token" ]] && break
  sleep 2
done
[[ -n "$token" ]] || die "the portal did not answer $PORTAL/api/auth/guest/refresh in 10 minutes"
controller_id="" agent_token=""
register || die "could not register the demo Controller and Whisperer"

# ------------------------------------------------------------------- agent
alive
install_agent || die "could not install the agent with the Install tab's command"

# ------------------------------------------------------------------- ready
alive
say "waiting for the demo shop and the agent"
kubectl -n shop rollout status deployment/payments --timeout=180s
kubectl -n shop rollout status deployment/checkout --timeout=180s
wait_connected || die "the agent did not connect to $PORTAL (kubectl -n $NS_AGENT logs deploy/spider-agent)"
say "ready in $(( ($(date +%s%3N) - T0) / 1000 ))s: open http://localhost:3000/catalog/default/component/payments/traffic-capture and attach demo-http (kubeconfig: $SPIDER_PLANE_KUBECONFIG)"

# ------------------------------------------------------------------- keep
# The dev portal keeps its database in memory, and its backend restarts when its sources
# change: then the demo Controller is gone and the agent's token with it. While the portal
# runs, register again and reinstall (a new token rolls the agent pod).
[[ -n "$WATCH_PID" ]] || exit 0
while sleep 20; do
  alive
  token="$(guest_token || true)"
  [[ -n "$token" ]] || continue
  listed="$(api GET /controllers 2>/dev/null)" || continue # the plugin is not serving yet
  [[ -z "$(jq -r '.items[] | select(.name == "demo-cluster") | .id' <<<"$listed")" ]] || continue
  say "the portal restarted without the demo Controller; registering it again"
  if register && install_agent && wait_connected; then
    say "demo Controller connected again"
  else
    say "warning: could not re-register the demo Controller; retrying"
  fi
done
