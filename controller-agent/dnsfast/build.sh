#!/usr/bin/env bash
# Builds the static spider-dns-fastpath once per source state and prints its path:
#   ${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/dns-fastpath/<key>/spider-dns-fastpath
# <key> hashes the Go version, go.mod, go.sum, every non-test .go file and this script.
#   --print   print the path only, without building
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export PATH="/usr/local/go/bin:$PATH"
print_only=0
case "${1:-}" in
  --print) print_only=1 ;;
  "") ;;
  *) echo "usage: dnsfast/build.sh [--print]" >&2; exit 2 ;;
esac
key="$( {
  go version
  sha256sum build.sh go.mod go.sum
  find . -name '*.go' ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)"
dir="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/dns-fastpath/$key"
bin="$dir/spider-dns-fastpath"
if [[ $print_only == 1 || -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if [[ ! -x "$bin" ]]; then
  tmp="$dir/.spider-dns-fastpath.$$"
  # Pure Go, no cgo: static by construction, runs in the agent's distroless image.
  CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$tmp" ./cmd/spider-dns-fastpath
  mv -f "$tmp" "$bin"
fi
echo "$bin"
