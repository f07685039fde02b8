#!/usr/bin/env bash
# Builds the static spider-whisperer once per source state and prints its path:
#   ${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/whisperer/<key>/spider-whisperer
# <key> hashes the Go version, go.mod, go.sum, every non-test .go file and this script,
# so an unchanged tree reuses the binary (CI caches the directory).
#   --print   print the path only, without building (a cache key for CI)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export PATH="/usr/local/go/bin:$PATH"
print_only=0
case "${1:-}" in
  --print) print_only=1 ;;
  "") ;;
  *) echo "usage: whisperer/build.sh [--print]" >&2; exit 2 ;;
esac

key="$( {
  go version
  sha256sum build.sh go.mod go.sum
  find . -name '*.go' ! -name '*_test.go' -not -path './integration/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)"
dir="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/whisperer/$key"
bin="$dir/spider-whisperer"
if [[ $print_only == 1 || -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

if [[ ! -f /usr/lib/x86_64-linux-gnu/libpcap.a && ! -f /usr/lib/libpcap.a ]]; then
  echo "whisperer/build.sh: libpcap.a not found: apt-get install libpcap-dev libdbus-1-dev" >&2
  exit 1
fi
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if [[ ! -x "$bin" ]]; then
  tmp="$dir/.spider-whisperer.$$"
  # cgo for libpcap, linked statically (see README: static.go, the pcapstatic tag); the
  # pure-Go resolver and user lookup so nothing needs glibc's NSS at run time.
  # glibc warns that libpcap's and libdbus's name lookups (getaddrinfo, getpwnam) need
  # NSS at run time: they are not reached (filters are compiled with IP literals, no
  # D-Bus), so the log is shown only when the build fails.
  if ! CGO_ENABLED=1 CGO_LDFLAGS="-lpcap -ldbus-1" go build -trimpath -buildvcs=false \
    -tags 'netgo osusergo pcapstatic' \
    -ldflags '-s -w -linkmode external -extldflags "-static"' \
    -o "$tmp" ./cmd/spider-whisperer 2>"$dir/build.log"; then
    cat "$dir/build.log" >&2
    rm -f "$tmp"
    exit 1
  fi
  if ldd "$tmp" >/dev/null 2>&1; then
    echo "whisperer/build.sh: $tmp is not static" >&2
    rm -f "$tmp"
    exit 1
  fi
  mv -f "$tmp" "$bin"
fi
echo "$bin"
