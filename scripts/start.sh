#!/usr/bin/env bash
# Starts the dev portal: frontend on :3000, backend on :7007, embedded SQLite, guest
# sign-in, demo catalog entities, the Spider plugins.
#
# When this machine can run it (Linux, root, Go, containerd), it also brings up the demo
# cluster in the background (demo/up.sh): a plane with a real node, the images built here,
# the demo shop (payments ← checkout) with live traffic, a Controller registered in the
# portal and its agent installed with the Install tab's own command. Progress: one line
# per step in this terminal, everything in $SPIDER_CACHE_DIR/demo/up.log. The cluster goes
# down with the portal.
#
# Usage: scripts/start.sh [--no-cluster] [backstage-cli repo start options]
source "$(dirname "$0")/toolchain.sh"
cd "$repo_root"

cluster=1
args=()
for a in "$@"; do
  if [[ "$a" == --no-cluster ]]; then cluster=0; else args+=("$a"); fi
done

# Why the demo cluster cannot run here, or nothing when it can.
cluster_blocker() {
  [[ "$(uname -s)" == Linux ]] || { echo "not Linux"; return; }
  [[ "$(id -u)" == 0 ]] || { echo "not root (containerd, network namespaces and mounts need it)"; return; }
  command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]] || { echo "no Go (the plane's binaries and the images are built with it)"; return; }
  local c
  for c in containerd runc ctr jq curl; do
    command -v "$c" >/dev/null || { echo "no $c (Debian: apt-get install containerd runc jq curl)"; return; }
  done
}

yarn install --immutable

if ((cluster)); then
  blocker="$(cluster_blocker)"
  if [[ -n "$blocker" ]]; then
    echo "› Demo cluster skipped: $blocker. The portal starts alone (--no-cluster silences this)."
  else
    cache="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}"
    mkdir -p "$cache/demo"
    log="$cache/demo/up.log"
    # The Install tab renders the packaged chart and the portal's in-cluster name (a
    # Service demo/up.sh points at this host), so its one-line command works in the demo.
    APP_CONFIG_spider_install_chart="$(demo/up.sh --print-chart)"
    export APP_CONFIG_spider_install_chart
    export APP_CONFIG_spider_agents_externalUrl="http://spider-portal.default.svc.cluster.local:7007/api/spider"
    echo "› Demo cluster: starting in the background (log: $log)"
    # $$ stays this script's pid across the exec below: the portal's pid.
    : >"$log"
    demo/up.sh --watch-pid $$ --log "$log" &
  fi
fi

exec node .yarn/releases/yarn-4.13.0.cjs start "${args[@]}"
