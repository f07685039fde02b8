# The plane's real node: containerd (Debian) + runc + the Debian CNI plugins, kubelet and
# kube-proxy (built with the plane), and CoreDNS as cluster DNS. Sourced by ../plane,
# whose variables (STATE, PORT, PKI, LOGS, PIDS, API_PORT, ...) and helpers (say, die,
# start_proc, wait_for, kcurl, write_kubeconfig) it uses.
#
# The node lives in its own network namespace, spider-node-<port>: its bridge, the pods'
# veths, the CNI's and kube-proxy's and the kubelet's iptables rules are all inside it, so
# two planes' nodes never share a chain, and deleting the namespace removes every rule.
# The host side is one veth (spn<port>) and a route to the pod CIDR through it. Mounts
# (overlay rootfs, shm, pod network namespaces, kubelet volumes) all lie under the state
# dir, the pods' cgroups under /<cgroup>/spider-node-<port>; down removes all of it.
#
# Addresses, from the port (unique for ports that differ by less than 16384):
#   pod CIDR 10.<64+(port>>8 & 63)>.<port & 255>.0/24, its .1 on the bridge = node IP;
#   uplink /30 10.<128+...>.<...>.0: host end .1 (where pods reach the host and the
#   apiserver), node end .2.

NODE_HERE="$HERE/node"
NODE_DIR="$STATE/node"
NODE_NAME="real-node-0"
NODE_NETNS="spider-node-$PORT"
NODE_NETNS_PATH="/run/netns/$NODE_NETNS"
NODE_VETH="spn$PORT"
NODE_BRIDGE="spbr$PORT"
NODE_CGROUP="spider-node-$PORT"
CONTAINERD_DIR="$NODE_DIR/containerd"
CONTAINERD_SOCK="$CONTAINERD_DIR/containerd.sock"
KUBELET_DIR="$NODE_DIR/kubelet"
CNI_BIN_DIR="${SPIDER_PLANE_CNI_BIN_DIR:-/usr/lib/cni}"
DNS_IP=10.96.0.10
PAUSE_IMAGE="spider/pause:3.10"
COREDNS_VERSION="$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$NODE_HERE/../go/coredns/go.mod")"
COREDNS_IMAGE="spider/coredns:${COREDNS_VERSION#v}"
NODE_LABEL="spider.dev/node-kind=real"

_node_o2=$((64 + ((PORT >> 8) & 63)))
_node_o3=$((PORT & 255))
POD_CIDR="10.$_node_o2.$_node_o3.0/24"
NODE_IP="10.$_node_o2.$_node_o3.1"
HOST_IP="10.$((_node_o2 + 64)).$_node_o3.1"
NODE_UPLINK_IP="10.$((_node_o2 + 64)).$_node_o3.2"

in_node() { nsenter --net="$NODE_NETNS_PATH" "$@"; }
node_ctr() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# ---------------------------------------------------------------- checks
node_preflight() {
  [[ "$(id -u)" == 0 ]] || die "--real-nodes needs root (containerd, network namespaces, cgroups, mounts)"
  local c
  for c in containerd containerd-shim-runc-v2 ctr runc nsenter ip iptables; do
    command -v "$c" >/dev/null || die "--real-nodes needs $c (Debian: containerd runc iptables iproute2 util-linux)"
  done
  for c in bridge host-local loopback portmap; do
    [[ -x "$CNI_BIN_DIR/$c" ]] || die "--real-nodes needs the CNI plugin $CNI_BIN_DIR/$c (Debian: containernetworking-plugins)"
  done
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null ||
    die "--real-nodes needs br_netfilter (Services between pods on one bridge): modprobe br_netfilter"
  [[ ! -e "$NODE_NETNS_PATH" ]] || die "network namespace $NODE_NETNS exists (another plane on port $PORT?); remove it with: ip netns del $NODE_NETNS"
  ! ip link show "$NODE_VETH" >/dev/null 2>&1 || die "link $NODE_VETH exists (another plane on port $PORT?)"
  if ip -4 route show | awk '{print $1}' | grep -qE "^10\.($_node_o2|$((_node_o2 + 64)))\.$_node_o3\."; then
    die "the real node's addresses ($POD_CIDR, $HOST_IP/30) overlap a route of this host; choose another --port"
  fi
}

# ---------------------------------------------------------------- pki and identities
# Extra names on the apiserver certificate: kubelet and kube-proxy reach it from the
# node's namespace at the uplink's host end.
node_apiserver_sans() { if ((REAL_NODES)); then echo ",IP:$HOST_IP"; fi; }

node_pki() {
  local ext="$PKI/kubelet.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/kubelet.key" -out "$PKI/kubelet.csr" -subj "/CN=system:node:$NODE_NAME/O=system:nodes" 2>/dev/null
  cat >"$ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME
EOF
  openssl x509 -req -in "$PKI/kubelet.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -out "$PKI/kubelet.crt" -days 3650 -extfile "$ext" 2>/dev/null
  chmod 600 "$PKI/kubelet.key"
}

node_tokens() {
  local kubelet proxy
  kubelet="$(openssl rand -hex 24)"; proxy="$(openssl rand -hex 24)"
  # The Node authorizer and NodeRestriction know a kubelet by this user and group.
  echo "$kubelet,system:node:$NODE_NAME,system:node:$NODE_NAME,\"system:nodes\"" >>"$PKI/tokens.csv"
  # Bound to system:node-proxier by the apiserver's bootstrap RBAC policy.
  echo "$proxy,system:kube-proxy,kube-proxy" >>"$PKI/tokens.csv"
  mkdir -p "$NODE_DIR"
  write_kubeconfig "$NODE_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" "$kubelet"
  write_kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" system:kube-proxy "$proxy"
  sed -i "s#server: https://127.0.0.1:$API_PORT#server: https://$HOST_IP:$API_PORT#" \
    "$NODE_DIR/kubelet.kubeconfig" "$NODE_DIR/kube-proxy.kubeconfig"
}

# ---------------------------------------------------------------- rendering
node_render() { # template out
  sed -e "s#@NODE_DIR@#$NODE_DIR#g" -e "s#@PKI@#$PKI#g" -e "s#@NODE_IP@#$NODE_IP#g" \
    -e "s#@NODE_NAME@#$NODE_NAME#g" -e "s#@NODE_CGROUP@#$NODE_CGROUP#g" -e "s#@DNS_IP@#$DNS_IP#g" \
    -e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@CONTAINERD_DIR@#$CONTAINERD_DIR#g" \
    -e "s#@CONTAINERD_SOCK@#$CONTAINERD_SOCK#g" -e "s#@PAUSE_IMAGE@#$PAUSE_IMAGE#g" \
    -e "s#@RUNC@#$(command -v runc)#g" -e "s#@CNI_BIN_DIR@#$CNI_BIN_DIR#g" \
    -e "s#@CNI_CONF_DIR@#$NODE_DIR/cni/net.d#g" -e "s#@CNI_IPAM_DIR@#$NODE_DIR/cni/ipam#g" \
    -e "s#@CNI_NETWORK@#spider-$PORT#g" -e "s#@BRIDGE@#$NODE_BRIDGE#g" \
    -e "s#@COREDNS_IMAGE@#$COREDNS_IMAGE#g" "$1" >"$2"
}

node_write_config() {
  mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" "$CONTAINERD_DIR" "$KUBELET_DIR" "$NODE_DIR/pod-logs"
  node_render "$NODE_HERE/containerd.toml" "$NODE_DIR/containerd.toml"
  node_render "$NODE_HERE/cni.conflist" "$NODE_DIR/cni/net.d/10-spider.conflist"
  node_render "$NODE_HERE/kubelet.yaml" "$NODE_DIR/kubelet.yaml"
  node_render "$NODE_HERE/kube-proxy.yaml" "$NODE_DIR/kube-proxy.yaml"
  # Pods with dnsPolicy Default (CoreDNS among them) get the host's resolvers, minus
  # loopback ones, which mean nothing inside a pod.
  grep -vE '^\s*nameserver\s+(127\.|::1)' /etc/resolv.conf >"$NODE_DIR/resolv.conf" 2>/dev/null || true
}

# ---------------------------------------------------------------- network
node_network_up() {
  ip netns add "$NODE_NETNS"
  ip link add "$NODE_VETH" type veth peer name eth0 netns "$NODE_NETNS"
  ip addr add "$HOST_IP/30" dev "$NODE_VETH"
  ip link set "$NODE_VETH" up
  in_node ip link set lo up
  in_node ip addr add "$NODE_UPLINK_IP/30" dev eth0
  in_node ip link set eth0 up
  in_node ip route add default via "$HOST_IP"
  # The bridge exists before the kubelet starts: its address is the node IP, which the
  # kubelet checks is local. The CNI bridge plugin adopts it.
  in_node ip link add "$NODE_BRIDGE" type bridge
  in_node ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  in_node ip link set "$NODE_BRIDGE" up
  in_node sysctl -qw net.ipv4.ip_forward=1
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # The host reaches pods (and the kubelet at the node IP) through the uplink.
  ip route add "$POD_CIDR" via "$NODE_UPLINK_IP" dev "$NODE_VETH"
}

# The kubelet's cgroupRoot must exist in every hierarchy. A new cpuset cgroup starts with
# no CPUs and no memory nodes (cgroup v1): it gets its parent's, or nothing could join it.
node_cgroups_up() {
  local h d
  for h in /sys/fs/cgroup/*/; do
    [[ -f "$h/cgroup.procs" ]] || continue
    d="$h$NODE_CGROUP"
    mkdir -p "$d"
    if [[ -f "$d/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$d/cpuset.cpus"
      cat "$h/cpuset.mems" >"$d/cpuset.mems"
    fi
  done
}

# ---------------------------------------------------------------- processes
node_start_containerd() {
  # nsenter --net only: the node shares the host's mount namespace, so the kubelet's
  # volume mounts are visible to containerd and runc.
  start_proc containerd nsenter --net="$NODE_NETNS_PATH" containerd --config "$NODE_DIR/containerd.toml"
  wait_for "containerd" 30 containerd node_ctr version
}

node_start_kubelet() {
  start_proc kubelet nsenter --net="$NODE_NETNS_PATH" "$PLANE_BIN_DIR/kubelet" \
    --config="$NODE_DIR/kubelet.yaml" \
    --kubeconfig="$NODE_DIR/kubelet.kubeconfig" \
    --root-dir="$KUBELET_DIR" \
    --cert-dir="$KUBELET_DIR/pki" \
    --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP" \
    --node-labels="$NODE_LABEL" \
    --v=1
}

node_start_kube_proxy() {
  start_proc kube-proxy nsenter --net="$NODE_NETNS_PATH" "$PLANE_BIN_DIR/kube-proxy" \
    --config="$NODE_DIR/kube-proxy.yaml" --v=1
}

node_ready() {
  kcurl GET "/api/v1/nodes/$NODE_NAME" | jq -e 'any(.status.conditions[]?; .type == "Ready" and .status == "True")' >/dev/null
}

# The kubernetes Service (10.96.0.1) for pods: the apiserver runs with
# --endpoint-reconciler-type=none, so its endpoint (the uplink's host end) is written here.
node_kubernetes_endpoints() {
  kcurl POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices "$(cat <<EOF
{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
 "metadata":{"name":"kubernetes","labels":{"kubernetes.io/service-name":"kubernetes","endpointslice.kubernetes.io/managed-by":"spider-plane"}},
 "addressType":"IPv4","endpoints":[{"addresses":["$HOST_IP"],"conditions":{"ready":true}}],
 "ports":[{"name":"https","port":$API_PORT,"protocol":"TCP"}]}
EOF
)" >/dev/null
}

coredns_ready() {
  kcurl GET /apis/apps/v1/namespaces/kube-system/deployments/coredns | jq -e '(.status.availableReplicas // 0) >= 1' >/dev/null
}

# Imports OCI or docker archives into the node's containerd (CRI's k8s.io namespace).
node_import() {
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || die "no image archive at $f"
    node_ctr images import "$f" >&2 || die "could not import $f"
  done
}

# ---------------------------------------------------------------- images
IMAGES_DIR="$(cd "$HERE/../.." && pwd)/images"

# The pause image from the images tool (images/), unless SPIDER_PLANE_PAUSE_ARCHIVE names one.
node_pause_archive() {
  if [[ -n "${SPIDER_PLANE_PAUSE_ARCHIVE:-}" ]]; then echo "$SPIDER_PLANE_PAUSE_ARCHIVE"; return; fi
  [[ -x "$IMAGES_DIR/build.sh" ]] || die "no pause image: images/build.sh is missing (or set SPIDER_PLANE_PAUSE_ARCHIVE)"
  "$IMAGES_DIR/build.sh" --print-archive pause
}

# CoreDNS as an image (the binary on an empty base), built with the images tool and cached
# next to the binary, keyed by its spec.
node_coredns_archive() {
  local bin dir spec out
  bin="$("$NODE_HERE/build-coredns.sh")"
  dir="$(dirname "$bin")"
  spec="$(cat <<EOF
{"name":"$COREDNS_IMAGE","layers":[{"entries":[
  {"src":"$bin","dest":"/coredns","mode":"0755"},
  {"dir":true,"dest":"/etc/coredns","mode":"0755"},
  {"dir":true,"dest":"/tmp","mode":"1777"}]}],
 "config":{"entrypoint":["/coredns"],"exposedPorts":["53/udp","53/tcp"]}}
EOF
)"
  out="$dir/coredns-image-$(echo "$spec" | sha256sum | cut -c1-12).tar"
  if [[ ! -f "$out" ]]; then
    echo "$spec" >"$dir/coredns-image.json"
    "$IMAGES_DIR/build.sh" --ociimage build -spec "$dir/coredns-image.json" -out "$out.partial" >&2 ||
      die "could not build the CoreDNS image (images/build.sh --ociimage)"
    mv "$out.partial" "$out"
  fi
  echo "$out"
}

# ---------------------------------------------------------------- up
# Three steps, so the node's start overlaps the control plane's:
#   node_prepare  before etcd: images, config, network, containerd, image import
#   node_join     once the apiserver is ready: kubelet, kube-proxy, cluster DNS objects
#   node_wait     at the end: node Ready, CoreDNS available
node_prepare() {
  local t0 pause coredns
  t0=$(now_ms)
  pause="$(node_pause_archive)" || die "could not build the pause image (images/build.sh --print-archive pause)"
  coredns="$(node_coredns_archive)"
  node_write_config
  node_render "$NODE_HERE/cluster-dns.yaml" "$NODE_DIR/cluster-dns.yaml"
  node_network_up
  node_cgroups_up
  node_start_containerd
  node_import "$pause" "$coredns"
  say "real node: containerd ready, images imported after $(( $(now_ms) - t0 ))ms"
}

node_join() {
  node_kubernetes_endpoints || die "could not write the kubernetes Service's endpoints"
  node_start_kubelet
  node_start_kube_proxy
  "$PLANE_BIN_DIR/kubectl" --kubeconfig "$STATE/kubeconfig" --cache-dir "$STATE/kubectl-cache" apply -f "$NODE_DIR/cluster-dns.yaml" >"$LOGS/cluster-dns.log" 2>&1 ||
    { cat "$LOGS/cluster-dns.log" >&2; die "could not apply the cluster DNS manifests"; }
}

node_wait() {
  local t0; t0=$(now_ms)
  wait_for "node $NODE_NAME Ready" 90 kubelet node_ready
  wait_for "CoreDNS available" 90 kubelet coredns_ready
  say "real node $NODE_NAME Ready and CoreDNS available $(( $(now_ms) - t0 ))ms later"
}

node_env() {
  cat <<EOF
SPIDER_PLANE_NODE_NAME=$NODE_NAME
SPIDER_PLANE_NODE_IP=$NODE_IP
SPIDER_PLANE_NODE_NETNS=$NODE_NETNS
SPIDER_PLANE_NODE_UPLINK=$NODE_VETH
SPIDER_PLANE_NODE_CGROUP=$NODE_CGROUP
SPIDER_PLANE_POD_CIDR=$POD_CIDR
SPIDER_PLANE_HOST_IP=$HOST_IP
SPIDER_PLANE_CONTAINERD_SOCK=$CONTAINERD_SOCK
SPIDER_PLANE_DNS_IP=$DNS_IP
EOF
}

# ---------------------------------------------------------------- down
# Pids of every process in this node's cgroups (all hierarchies: cgroup v1 and unified).
node_cgroup_pids() {
  local d
  for d in /sys/fs/cgroup/*/"$NODE_CGROUP" /sys/fs/cgroup/"$NODE_CGROUP"; do
    if [[ -d "$d" ]]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -u
}

node_kill_named() { # [-KILL] name...: TERM (then KILL) the plane's processes of these names
  local sig=TERM
  if [[ "$1" == -KILL ]]; then sig=KILL; shift; fi
  local n name pid pids=()
  for n in "$@"; do
    while read -r name pid; do
      if [[ "$name" == "$n" ]] && pid_is_ours "$pid"; then pids+=("$pid"); fi
    done < <(read_pids)
  done
  ((${#pids[@]})) || return 0
  kill "-$sig" "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + 10)) p alive
  while ((SECONDS < deadline)); do
    alive=0
    for p in "${pids[@]}"; do if pid_is_ours "$p"; then alive=1; fi; done
    ((alive)) || return 0
    sleep 0.2
  done
  for p in "${pids[@]}"; do
    if pid_is_ours "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  sleep 0.3
}

# containerd's shims: each names this node's containerd socket (so the state dir) on its
# command line; they outlive containerd, so they are found by that, not by the pid file.
# One grep over every command line: a process per pid would take seconds on a busy host.
node_shim_pids() {
  local f pid
  while IFS= read -r f; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == containerd-shim* ]]; then echo "$pid"; fi
  done < <(grep -lsaF -- "$CONTAINERD_SOCK" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 0
}

# Live (not zombie) processes among pids.
node_live() {
  local p
  for p in "$@"; do
    if [[ -r "/proc/$p/stat" ]] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$p/stat" 2>/dev/null; then echo "$p"; fi
  done
  return 0
}

# Mount points under the state dir, deepest first (mountinfo escapes spaces as \040).
node_mounts() {
  awk -v s="$STATE/" 'index($5, s) == 1 { print $5 }' /proc/self/mountinfo | sed 's/\\040/ /g' | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-
}

node_down() {
  local t0; t0=$(now_ms)
  # 1. No new pods: the kubelet and kube-proxy go first.
  node_kill_named kube-proxy kubelet
  say "real node down: kubelet and kube-proxy stopped after $(( $(now_ms) - t0 ))ms"
  # 2. Every container process of this node, found by its cgroups, then the shims (their
  #    socket paths first: they live in /run/containerd/s), then containerd.
  local i pids sockets=() ids=() a
  pids="$(node_cgroup_pids)"
  # shellcheck disable=SC2086
  if [[ -n "$pids" ]]; then kill -KILL $pids 2>/dev/null || true; fi
  for a in "$CONTAINERD_DIR"/state/io.containerd.runtime.v2.task/*/*/address; do
    if [[ -f "$a" ]]; then sockets+=("$(sed 's#^unix://##' "$a")"); fi
  done
  # Every container and sandbox id, for the CNI plugins' result cache (below).
  for a in "$CONTAINERD_DIR"/state/io.containerd.runtime.v2.task/*/* "$CONTAINERD_DIR"/root/io.containerd.grpc.v1.cri/sandboxes/*; do
    if [[ -d "$a" ]]; then ids+=("$(basename "$a")"); fi
  done
  pids="$(node_shim_pids)"
  # shellcheck disable=SC2086
  if [[ -n "$pids" ]]; then kill -KILL $pids 2>/dev/null || true; fi
  # No graceful stop: its state is thrown away with the state dir.
  node_kill_named -KILL containerd
  for a in "${sockets[@]}"; do
    if [[ "$a" == /run/containerd/s/* ]]; then rm -f "$a"; fi
  done
  # Anything still alive in the cgroups (a process forked meanwhile) gets another KILL.
  for ((i = 0; i < 25; i++)); do
    # shellcheck disable=SC2046
    pids="$(node_live $(node_cgroup_pids))"
    [[ -z "$pids" ]] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  say "real node down: containers, shims and containerd stopped after $(( $(now_ms) - t0 ))ms"
  # 3. Mounts: overlay rootfs, shm, pod network namespaces, kubelet volumes.
  local m left
  for ((i = 0; i < 5; i++)); do
    left=0
    while IFS= read -r m; do
      [[ -n "$m" ]] || continue
      left=1
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done < <(node_mounts)
    ((left)) || break
  done
  say "real node down: mounts removed after $(( $(now_ms) - t0 ))ms"
  # 4. The network: the uplink (and its route), then the namespace with the bridge, the
  #    veths and every iptables rule of the node in it.
  ip link del "$NODE_VETH" 2>/dev/null || true
  if [[ -e "$NODE_NETNS_PATH" ]]; then ip netns del "$NODE_NETNS" 2>/dev/null || true; fi
  say "real node down: network removed after $(( $(now_ms) - t0 ))ms"
  # 5. The node's cgroup trees, leaves first.
  local d
  for d in /sys/fs/cgroup/*/"$NODE_CGROUP" /sys/fs/cgroup/"$NODE_CGROUP"; do
    if [[ -d "$d" ]]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  # 6. What the tools keep in host-wide directories (which stay, shared with any other
  #    node on this host): the kubelet's links to container logs, the CNI result cache
  #    of sandboxes that never got a CNI DEL, and the kubelet's device-plugin socket
  #    (a fixed path) unless another kubelet listens on it.
  local l id
  for l in /var/log/containers/*.log; do
    if [[ -L "$l" && "$(readlink "$l")" == "$NODE_DIR/"* ]]; then rm -f "$l"; fi
  done
  for id in "${ids[@]}"; do
    rm -f /var/lib/cni/results/*-"$id"-*
  done
  l=/var/lib/kubelet/device-plugins/kubelet.sock
  if [[ -S "$l" ]] && ! ss -xlH 2>/dev/null | grep -qF " $l "; then rm -f "$l"; fi
  return 0
}
