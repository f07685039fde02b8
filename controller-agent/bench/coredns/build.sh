#!/usr/bin/env bash
# Builds the benchmark's CoreDNS (see main.go) into ~/.cache/spider/coredns/<version>/
# once; later runs reuse it. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(grep -oE "github.com/coredns/coredns v[0-9][^ ]*" "$here/go.mod" | head -1 | cut -d" " -f2)"
# The plugin list is part of the build: key the cache on main.go too.
key="$(sha256sum "$here/main.go" | cut -c1-8)"
out="${SPIDER_CACHE:-$HOME/.cache/spider}/coredns/$version/$key"
if [[ ! -x "$out/coredns" ]]; then
  mkdir -p "$out"
  (cd "$here" && go build -trimpath -o "$out/coredns.partial" .) >&2
  mv "$out/coredns.partial" "$out/coredns"
fi
echo "$out/coredns"
