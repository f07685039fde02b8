# Versions of the control-plane components built by build.sh and run by plane.
# Sourced by both scripts; the cache directory is keyed by these values.
K8S_VERSION=v1.34.4
K8S_STAGING_VERSION=v0.34.4 # must match the replace block in go/kubernetes/go.mod
ETCD_VERSION=v3.6.16        # must match go/etcd/go.mod
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.22.0

# Bump when the way binaries are built changes (flags, patches) to force a rebuild.
PLANE_BUILD_REVISION=2

SPIDER_CACHE_DIR="${SPIDER_CACHE_DIR:-$HOME/.cache/spider}"
PLANE_VERSIONS_KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_r${PLANE_BUILD_REVISION}"
PLANE_CACHE="${SPIDER_CACHE_DIR}/plane/${PLANE_VERSIONS_KEY}"
PLANE_BIN="${SPIDER_PLANE_BIN:-${PLANE_CACHE}/bin}"
PLANE_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kwok helm)
