# Sourced by whisperer/test.sh and controller-agent/dnsfast/test.sh (run from the Go
# module's directory): the checks every Go module here gets.

# go_fmt_check FILES... : fails naming the files gofmt would change.
go_fmt_check() {
  local unformatted
  unformatted="$(gofmt -l "$@")"
  if [[ -n "$unformatted" ]]; then
    echo "gofmt needed:" >&2
    echo "$unformatted" >&2
    return 1
  fi
}

# go_fuzz_all FUZZTIME : every fuzz target of every package, one at a time (go test -fuzz
# takes one). Quiet unless it fails: then the failing input and the test's message are
# the point. Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime ends while a worker is busy (golang/go#75804, fixed in Go
# 1.27): no input failed and none is written. Such a run is repeated once; a written
# input, any other message or a second such failure fails.
go_fuzz_all() {
  local fuzztime="$1" pkg dir target attempt before after out
  for pkg in $(go list ./...); do
    dir="$(go list -f '{{.Dir}}' "$pkg")"
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
      echo "fuzz $pkg $target ($fuzztime)"
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
        return 1
      done
    done
  done
}
