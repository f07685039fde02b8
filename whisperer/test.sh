#!/usr/bin/env bash
# The whisperer's checks: go vet, unit tests, each fuzz target briefly, and the
# network-namespace integration test against the static binary (skips when not root).
#   SPIDER_FUZZ_TIME  per fuzz target (default 10s)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export PATH="/usr/local/go/bin:$PATH"
# Node (24, the repository's) checks the integration output against spider-common's zod
# schemas.
if [[ -f ../scripts/toolchain.sh ]]; then
  # shellcheck disable=SC1091
  source ../scripts/toolchain.sh >/dev/null
fi
fuzztime="${SPIDER_FUZZ_TIME:-10s}"

unformatted="$(gofmt -l $(find . -name '*.go' -not -path './internal/h2/*'))"
if [[ -n "$unformatted" ]]; then
  echo "gofmt needed:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -count=1 $(go list ./... | grep -v /integration)

# Every fuzz target of every package, one at a time (go test -fuzz takes one).
for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($fuzztime)"
    # Quiet unless it fails: then the failing input and the test's message are the point.
    # Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded"
    # when -fuzztime ends while a worker is busy (golang/go#75804, fixed in Go 1.27): no
    # input failed and none is written. Such a run is repeated once; a written input, any
    # other message or a second such failure fails the suite.
    for attempt in 1 2; do
      before="$(ls "$dir/testdata/fuzz/$target" 2>/dev/null | sort || true)"
      if out="$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)"; then
        break
      fi
      after="$(ls "$dir/testdata/fuzz/$target" 2>/dev/null | sort || true)"
      if [[ $attempt == 1 && "$before" == "$after" ]] &&
        grep -q '^    context deadline exceeded$' <<<"$out" &&
        ! grep -q 'Failing input written' <<<"$out"; then
        echo "  $target: the coordinator's deadline race (golang/go#75804), no failing input; once more"
        continue
      fi
      echo "$out" | tail -40 >&2
      exit 1
    done
  done
done

bin="$(./build.sh)"
SPIDER_WHISPERER_BIN="$bin" go test -count=1 ./integration/
