#!/usr/bin/env bash
# Builds CoreDNS for the real node's cluster DNS (../go/coredns: the stock server with
# the kubernetes plugin) once; prints the binary's path. The cache is keyed on the
# wrapper module's files, so a change of version or plugin list rebuilds it.
#   ${SPIDER_CACHE_DIR:-~/.cache/spider}/coredns/<version>-<hash>/coredns
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mod="$here/../go/coredns"
version="$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$mod/go.mod")"
key="$(cat "$mod/go.mod" "$mod/go.sum" "$mod/main.go" | sha256sum | cut -c1-12)"
out="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/coredns/$version-$key"
if [[ ! -x "$out/coredns" ]]; then
  GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
  mkdir -p "$out"
  exec 9>"$out/.build.lock"
  flock 9
  if [[ ! -x "$out/coredns" ]]; then
    t0=$SECONDS
    (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$GO" build -trimpath -ldflags "-s -w" -o "$out/coredns.partial" .) >&2
    mv "$out/coredns.partial" "$out/coredns"
    echo "$((SECONDS - t0))" >"$out/build-seconds"
    echo "built CoreDNS $version in $((SECONDS - t0))s" >&2
  fi
fi
echo "$out/coredns"
