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

# shellcheck disable=SC1091
source ../scripts/go-checks.sh
go_fmt_check $(find . -name '*.go' -not -path './internal/h2/*')
go vet ./...
go test -count=1 $(go list ./... | grep -v /integration)

go_fuzz_all "$fuzztime"

bin="$(./build.sh)"
SPIDER_WHISPERER_BIN="$bin" go test -count=1 ./integration/
