#!/usr/bin/env bash
# A real single-node Kubernetes v1.20.2 on this machine: up | down | status | env | purge.
#
#   containerd (own socket and root, CRI, bridge CNI) -> etcd -> kube-apiserver -> kube-controller-manager,
#   kube-scheduler -> kubelet -> kube-proxy (iptables), plus what every real cluster has and Debian lacks:
#   a cluster DNS (dnsmasq answering only <service>.<namespace>.svc.cluster.local, nothing forwarded), a default
#   StorageClass with a local-volume provisioner (hack/node_addons.py), and TCP forwarders so pods reach this
#   machine's PostgreSQL and Redis.
#
# Binaries: hack/kube.sh install (built once from Debian's source). Everything the node serves listens on the pod
# bridge's gateway (footfall0, 10.244.0.1, made here) or 127.0.0.1, never on an outside interface: pods reach the
# host at 10.244.0.1 (apiserver 6443, DNS 53, PostgreSQL 5432, Redis 6379, cameras on their ports).
# State, PKI, logs and PID files: $FOOTFALL_NODE_DIR (/var/lib/footfall-node); `down` leaves the cluster's state,
# so `up` brings the same cluster back; `purge` deletes it. `env` prints KUBECONFIG and PATH for `eval`.
# Needs root, cgroups v1 or hybrid, overlayfs, iptables and br_netfilter: a missing one fails loudly, naming it.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$("$FOOTFALL_ROOT/hack/kube.sh" bin)
STATE=${FOOTFALL_NODE_DIR:-/var/lib/footfall-node}
SOCK=/run/footfall-node/containerd.sock
NODE=${FOOTFALL_NODE_NAME:-footfall-node}
BRIDGE=footfall0
POD_CIDR=10.244.0.0/16
GATEWAY=10.244.0.1
SVC_CIDR=10.96.0.0/24           # the `kubernetes` Service is its first address, 10.96.0.1
API_PORT=6443
ETCD_PORT=12379                 # not 2379 (a distro etcd) nor hack/kube.sh's 23790
PKI=$STATE/pki LOG=$STATE/log
VENV_PYTHON=$FOOTFALL_ROOT/.venv/bin/python
PAUSE_IMAGE=localhost/pause:3.4.1
NODE_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack socat dnsmasq-base buildah)
export PATH=$BIN:/usr/local/sbin:/usr/sbin:/sbin:$PATH

log() { say "$*"; }

# -- prerequisites: say exactly which one is missing -------------------------------------------------------------
check_kernel() {
  [ "$(id -u)" = 0 ] || die "the node needs root (containerd, kubelet, iptables)"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || die "kernel feature missing: overlayfs (containerd's snapshotter)"
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "kernel feature missing: cgroups"
  if [ -f /sys/fs/cgroup/cgroup.controllers ] && [ ! -d /sys/fs/cgroup/memory ]; then
    die "cgroup v2 only: Kubernetes v1.20's kubelet needs cgroup v1 (or the hybrid layout)"
  fi
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null || true
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] \
    || die "kernel feature missing: br_netfilter (Services between pods on one bridge need it)"
  iptables -t nat -L -n >/dev/null 2>&1 || die "kernel feature missing: iptables nat table (kube-proxy)"
}

install_node() {
  "$FOOTFALL_ROOT/hack/kube.sh" install
  apt_install "${NODE_PACKAGES[@]}"
  "$FOOTFALL_ROOT/hack/venv.sh"   # node_addons.py runs on the project's kubernetes client
  pause_image
}

# The sandbox image every pod starts with, FROM scratch with the pause binary built from Kubernetes' own source
# (hack/kube.sh). Nothing can be pulled here, so it must be local; the kubelet is told never to collect it.
pause_image() {
  local archive=$FOOTFALL_CACHE/node/pause-3.4.1.tar
  [ -f "$archive" ] && return 0
  mkdir -p "$(dirname "$archive")"
  local container; container=$(buildah from scratch)
  buildah copy -q "$container" "$BIN/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --cmd '' "$container"
  buildah commit -q "$container" "$PAUSE_IMAGE" >/dev/null
  buildah rm "$container" >/dev/null
  buildah push -q "$PAUSE_IMAGE" "oci-archive:$archive.tmp:$PAUSE_IMAGE" && mv "$archive.tmp" "$archive"
}

running() { pid_alive "$STATE/$1.pid"; }

start_process() {  # NAME COMMAND...: own session, so it outlives this shell; its real PID in NAME.pid
  local name=$1; shift
  if running "$name"; then return 0; fi
  rm -f "$STATE/$name.pid"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$STATE/$name.pid" "$@" >> "$LOG/$name.log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do [ -s "$STATE/$name.pid" ] && return 0; sleep 0.1; done
  die "$name did not start (see $LOG/$name.log)"
}

stop_process() {  # NAME: SIGTERM, SIGKILL after 10 s
  local file=$STATE/$1.pid pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# -- PKI and credentials (once per cluster) ----------------------------------------------------------------------
make_pki() {
  [ -f "$PKI/tokens.csv" ] && return 0
  mkdir -p "$PKI" && (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt -subj /CN=footfall-node-ca 2>/dev/null
    cert() {  # NAME SUBJECT EXTENSIONS
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%b' "$3" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out "$1.crt" \
        -extfile "$1.ext" 2>/dev/null
    }
    cert apiserver /CN=kube-apiserver "subjectAltName=IP:127.0.0.1,IP:$GATEWAY,IP:${SVC_CIDR%.0/*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n"
    # the apiserver's client certificate towards the kubelet (logs, exec); system:masters passes its authorizer
    cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth\n"
    openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    token() { openssl rand -hex 16; }
    # static bearer tokens: user, uid, groups. The kubelet must be system:node:<name> for the Node authorizer.
    {
      echo "$(token),admin,1,system:masters"
      echo "$(token),system:kube-controller-manager,2,system:masters"
      echo "$(token),system:kube-scheduler,3"
      echo "$(token),system:node:$NODE,4,system:nodes"
      echo "$(token),system:kube-proxy,5"
    } > tokens.csv.new
    chmod 600 ./*.key tokens.csv.new && mv tokens.csv.new tokens.csv
  )
}

kubeconfig() {  # USER FILE: a kubeconfig readable by root only, with USER's token
  local token; token=$(awk -F, -v user="$1" '$2 == user {print $1}' "$PKI/tokens.csv")
  install -m 600 /dev/null "$STATE/$2.kubeconfig"
  cat > "$STATE/$2.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: footfall-node
  cluster: {server: "https://$GATEWAY:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {token: "$token"}
contexts:
- name: footfall-node
  context: {cluster: footfall-node, user: $1, namespace: default}
current-context: footfall-node
EOF
}

# -- network: the pod bridge exists before anything binds to its gateway -----------------------------------------
network_up() {
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  [[ "$(ip -4 addr show dev "$BRIDGE")" == *"inet $GATEWAY/"* ]] || ip addr add "$GATEWAY/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  mkdir -p /etc/cni/net.d
  # lexically first in /etc/cni/net.d, so containerd's CRI picks it
  cat > /etc/cni/net.d/10-footfall-node.conflist <<EOF
{"cniVersion": "0.4.0", "name": "footfall-node", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]],
            "routes": [{"dst": "$POD_CIDR"}, {"dst": "${SVC_CIDR}"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
EOF
  # Pods get no default route and no masquerade: nothing they send can leave this machine.
}

containerd_up() {
  # Without CAP_SYS_RESOURCE nobody may lower an oom_score_adj, and the CRI's sandbox default (-998) makes runc
  # fail ("can't get final child's PID from pipe"): then keep pods at containerd's own score.
  local capabilities restrict
  capabilities=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
  restrict=$( (( (0x$capabilities >> 24) & 1 )) && echo false || echo true )
  mkdir -p "$(dirname "$SOCK")" "$STATE/containerd"
  cat > "$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "/run/footfall-node/containerd"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = $restrict
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
EOF
  start_process containerd containerd --config "$STATE/containerd.toml"
  wait_for containerd 30 ctr --address "$SOCK" version || die "containerd did not start (see $LOG/containerd.log)"
  import_image "$FOOTFALL_CACHE/node/pause-3.4.1.tar" "$PAUSE_IMAGE"
}

# import_image ARCHIVE NAME [ALIAS...]: into the kubelet's namespace unless that exact manifest is there already.
import_image() {
  local archive=$1 name=$2; shift 2
  local digest ctr=(ctr --address "$SOCK" -n k8s.io)
  digest=$(tar -xOf "$archive" index.json | grep -o 'sha256:[0-9a-f]*' | head -n 1)
  if ! "${ctr[@]}" images ls | awk -v n="$name" -v d="$digest" '$1 == n && $3 == d {found=1} END {exit !found}'; then
    # --base-name keeps the archive's own name (ctr drops a buildah archive's name without it)
    "${ctr[@]}" images import --base-name "${name%:*}" "$archive" >/dev/null
  fi
  local alias
  for alias in "$@"; do
    "${ctr[@]}" images ls -q | grep -x "$alias" >/dev/null && "${ctr[@]}" images rm "$alias" >/dev/null
    "${ctr[@]}" images tag "$name" "$alias" >/dev/null
  done
}

control_plane_up() {
  start_process etcd etcd --name "$NODE" --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "$NODE=http://127.0.0.1:$((ETCD_PORT + 1))" --listen-metrics-urls "http://127.0.0.1:$((ETCD_PORT + 2))"
  # The advertised address is behind the `kubernetes` Service: pods reach it through kube-proxy's DNAT.
  start_process kube-apiserver kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address="$GATEWAY" --advertise-address="$GATEWAY" --secure-port="$API_PORT" --insecure-port=0 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
    --token-auth-file="$PKI/tokens.csv" --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate="$PKI/kubelet-client.crt" --kubelet-client-key="$PKI/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP --service-cluster-ip-range="$SVC_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" --allow-privileged=false --enable-priority-and-fairness=false
  export KUBECONFIG=$STATE/admin.kubeconfig
  wait_for kube-apiserver 90 kubectl get --raw /readyz || die "kube-apiserver not ready (see $LOG/kube-apiserver.log)"
  # Not run: nodeipam (CNI's host-local owns the pod range) and the cloud controllers (no cloud).
  start_process kube-controller-manager kube-controller-manager --kubeconfig="$STATE/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --port=0 --leader-elect=false \
    --use-service-account-credentials=false --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" --controllers='*,-nodeipam,-cloud-node-lifecycle,-service,-route'
  start_process kube-scheduler kube-scheduler --kubeconfig="$STATE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --port=0 --leader-elect=false
}

node_up() {
  mkdir -p "$STATE/kubelet" "$STATE/kubelet-pki" "$STATE/volume-plugins"
  # Pods resolve names only through the cluster DNS: the host's resolver is never handed to them.
  echo "nameserver $GATEWAY" > "$STATE/resolv.conf"
  start_process kubelet kubelet --kubeconfig="$STATE/kubelet.kubeconfig" --hostname-override="$NODE" \
    --node-ip="$GATEWAY" --address="$GATEWAY" --healthz-bind-address=127.0.0.1 --read-only-port=0 \
    --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet-pki" --volume-plugin-dir="$STATE/volume-plugins" \
    --container-runtime=remote --container-runtime-endpoint="unix://$SOCK" --runtime-request-timeout=10m \
    --cgroup-driver=cgroupfs --fail-swap-on=false --pod-infra-container-image="$PAUSE_IMAGE" \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --client-ca-file="$PKI/ca.crt" --anonymous-auth=false --authorization-mode=Webhook \
    --cluster-dns="$GATEWAY" --cluster-domain=cluster.local --resolv-conf="$STATE/resolv.conf" \
    --eviction-hard='memory.available<256Mi,nodefs.available<2%,imagefs.available<2%'
  # --image-gc-*: local images cannot be pulled again, so they are never collected.
  start_process kube-proxy kube-proxy --kubeconfig="$STATE/proxy.kubeconfig" --hostname-override="$NODE" \
    --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --nodeport-addresses="$GATEWAY/32" \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
}

# Cluster DNS, local volumes, and pods' way to this machine's PostgreSQL and Redis.
addons_up() {
  mkdir -p "$STATE/dns" "$STATE/volumes"
  touch "$STATE/dns/services.hosts"
  # --no-resolv + no server: a name outside cluster.local is never forwarded anywhere.
  start_process dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="$GATEWAY" --port=53 --local=/cluster.local/ --domain-needed \
    --no-negcache --addn-hosts="$STATE/dns/services.hosts" --pid-file= --log-facility=-
  start_process node-addons "$VENV_PYTHON" "$FOOTFALL_ROOT/hack/node_addons.py" \
    --kubeconfig "$STATE/admin.kubeconfig" --node "$NODE" --hosts-file "$STATE/dns/services.hosts" \
    --dnsmasq-pid-file "$STATE/dnsmasq.pid" --volumes "$STATE/volumes"
  local name target
  for name in postgres:5432 redis:6379; do
    target=${name#*:}
    start_process "forward-${name%%:*}" socat "TCP-LISTEN:$target,bind=$GATEWAY,reuseaddr,fork" "TCP:127.0.0.1:$target"
  done
}

# Ready, by a kubelet alive now: after a restart etcd still says Ready=True, so the node's lease (renewed every
# 10 s; the Ready condition's own heartbeat only every 5 minutes) must be newer than this start.
node_ready() {
  local status renewed
  status=$(kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || return 1
  renewed=$(kubectl get lease "$NODE" -n kube-node-lease -o jsonpath='{.spec.renewTime}' 2>/dev/null) || return 1
  [ "$status" = True ] && [ -n "$renewed" ] && [ "$(date -d "$renewed" +%s)" -ge "$1" ]
}

up() {
  local t0; t0=$(date +%s)
  [ "$(id -u)" = 0 ] || die "the node needs root (containerd, kubelet, iptables)"
  install_node   # first: on a fresh machine the kernel checks need iptables, which it installs
  check_kernel
  mkdir -p "$STATE" "$LOG"
  make_pki
  kubeconfig admin admin
  kubeconfig system:kube-controller-manager controller-manager
  kubeconfig system:kube-scheduler scheduler
  kubeconfig "system:node:$NODE" kubelet
  kubeconfig system:kube-proxy proxy
  network_up
  containerd_up
  control_plane_up
  node_up
  addons_up
  wait_for "node $NODE" 180 node_ready "$t0" || die "node $NODE not Ready (see $LOG/kubelet.log)"
  kubectl apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: footfall-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: footfall.io/local-node
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
  log "node $NODE Ready in $(( $(date +%s) - t0 )) s; KUBECONFIG=$STATE/admin.kubeconfig"
}

down() {
  local name
  for name in node-addons forward-postgres forward-redis dnsmasq kube-proxy kubelet; do stop_process "$name"; done
  # pods: every task of the k8s.io namespace of our own containerd (nothing else uses its socket)
  if [ -S "$SOCK" ] && ctr --address "$SOCK" version >/dev/null 2>&1; then
    local ctr=(ctr --address "$SOCK" -n k8s.io) task
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true; done
    sleep 1
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true; done
    for task in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers delete "$task" >/dev/null 2>&1 || true; done
  fi
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do stop_process "$name"; done
  # mounts of pod volumes, sandboxes and the kubelet's own bind mount; then the pods' network namespaces
  local mount_point
  for mount_point in $(awk '{print $2}' /proc/mounts | grep -E "^($STATE|/run/footfall-node)(/|$)" | sort -r); do
    umount "$mount_point" 2>/dev/null || umount -l "$mount_point" 2>/dev/null || true
  done
  local netns
  for netns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do
    ip netns exec "$netns" ip -4 -o addr show 2>/dev/null | grep " ${GATEWAY%.1}\." >/dev/null && ip netns delete "$netns"
  done
  rm -rf /var/lib/cni/networks/footfall-node /var/lib/cni/results/footfall-node-*
  kube-proxy --cleanup >/dev/null 2>&1 || true
  remove_iptables_rules
  ip link delete "$BRIDGE" 2>/dev/null || true
  rm -f /etc/cni/net.d/10-footfall-node.conflist
  log "stopped (state kept in $STATE)"
}

# kube-proxy --cleanup removes its chains; the kubelet's chains and the CNI portmap chains are ours to remove.
remove_iptables_rules() {
  local table chain
  for table in nat filter mangle; do
    # (`|| true`: a table with none of them is no error under pipefail)
    { iptables-save -t "$table" | grep -E '^-A .*(KUBE-MARK-DROP|KUBE-MARK-MASQ|KUBE-POSTROUTING|KUBE-FIREWALL|KUBE-KUBELET-CANARY|KUBE-PROXY-CANARY)|^-A .*name: \\"footfall-node\\"' || true; } \
      | sed 's/^-A/-D/' | while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
    for chain in $(iptables-save -t "$table" | sed -n 's/^:\(KUBE-[A-Z0-9-]*\) .*/\1/p'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
    for chain in $(iptables-save -t "$table" | sed -n 's/^:\(CNI-[0-9a-f]\{24\}\) .*/\1/p'); do
      iptables -t "$table" -S "$chain" | grep '^-A' >/dev/null || iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

status() {
  export KUBECONFIG=$STATE/admin.kubeconfig
  if running kubelet && running kube-apiserver && kubectl get node "$NODE" >/dev/null 2>&1; then
    kubectl get node "$NODE" -o wide
    return 0
  fi
  echo "not running"
  return 1
}

case "${1:-up}" in
  install) install_node ;;
  up) up ;;
  down) down ;;
  purge) down; rm -rf "$STATE" /run/footfall-node; log "purged $STATE" ;;
  status) status ;;
  env) printf 'export KUBECONFIG=%s\nexport PATH=%s:$PATH\n' "$STATE/admin.kubeconfig" "$BIN" ;;
  socket) echo "$SOCK" ;;
  import) shift; import_image "$@" ;;
  *) die "usage: $0 up|down|status|env|purge|install" ;;
esac
