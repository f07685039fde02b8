#!/usr/bin/env bash
# The DNS fast path's checks: gofmt, go vet, unit tests and each fuzz target briefly.
#   SPIDER_FUZZ_TIME  per fuzz target (default 10s)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export PATH="/usr/local/go/bin:$PATH"
fuzztime="${SPIDER_FUZZ_TIME:-10s}"
# shellcheck disable=SC1091
source ../../scripts/go-checks.sh
go_fmt_check .
go vet ./...
go test -count=1 ./...
go_fuzz_all "$fuzztime"
