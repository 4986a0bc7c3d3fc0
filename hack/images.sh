#!/usr/bin/env bash
# Footfall's container images, built here without any registry: build | load | all (default) | list.
#
#   build  a Debian bookworm base with Python 3.11 from Debian's own packages (debootstrap, cached), then the
#          Dockerfile's `footfall` and `triton-cpu` targets FROM it (podman, --build-arg BASE=...), as
#          localhost/footfall:VERSION and localhost/footfall-triton-cpu:VERSION. podman's layer cache makes a
#          rebuild with unchanged inputs take seconds.
#   all    build, then load when the node runs.
#   load   both into the test node's containerd (hack/cluster.sh), also under the names the chart's defaults use
#          (footfall:VERSION is docker.io/library/footfall:VERSION to the kubelet), skipped when unchanged.
#
# A customer builds the same Dockerfile with `docker build` on the public python:3.11-slim-bookworm (the default
# BASE) and pushes to their registry. Cache: $FOOTFALL_CACHE/images (the base tarball, load stamps).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$FOOTFALL_ROOT/pyproject.toml")
CACHE=$FOOTFALL_CACHE/images
BASE_IMAGE=localhost/footfall-base:bookworm
# python-is-python3: the Dockerfile runs `python -m venv`; libpython3.11: Triton's python backend stub links it.
BASE_PACKAGES=python3,python3-venv,python-is-python3,libpython3.11,ca-certificates
IMAGES=(footfall footfall-triton-cpu)
declare -A TARGET=([footfall]=footfall [footfall-triton-cpu]=triton-cpu)

mkdir -p "$CACHE"
# Limits within root's own hard limits (a machine without CAP_SYS_RESOURCE cannot raise them for a container).
export CONTAINERS_CONF=$CACHE/containers.conf
cat > "$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)"]
[engine]
# crun refuses the hybrid cgroup v1+v2 layout; runc runs on both. PID 1 need not be systemd.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

tools() { apt_install podman buildah debootstrap runc; }

mirror() {  # the Debian mirror apt already uses here (deb822 or one-line sources)
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

base() {
  local key archive
  key=$(printf '%s\n' bookworm "$BASE_PACKAGES" "$(sed -n '/^base() {/,/^}/p' "$0")" | sha256sum | cut -c1-16)
  archive=$CACHE/base-$key.tar
  if [ "$(podman image inspect --format '{{index .Labels "footfall.base-key"}}' "$BASE_IMAGE" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  if [ ! -f "$archive" ]; then
    local t0 rootfs; t0=$(date +%s); rootfs=$CACHE/rootfs
    say "debootstrap: Debian bookworm + $BASE_PACKAGES (~40 s, once)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$(mirror)" > "$CACHE/debootstrap.log" \
      || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
    chroot "$rootfs" apt-get clean
    # no apt lists, docs or locales in the base; and no mirror address (image users bring their own sources)
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/tmp/* \
      "$rootfs"/etc/apt/sources.list
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    tar --numeric-owner -C "$rootfs" -cf "$archive.tmp" . && mv "$archive.tmp" "$archive" && rm -rf "$rootfs"
    say "base tarball in $(( $(date +%s) - t0 )) s ($(du -h "$archive" | cut -f1))"
  fi
  podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --change "LABEL footfall.base-key=$key" "$archive" "$BASE_IMAGE" >/dev/null
}

build() {
  tools
  base
  local image t0
  for image in "${IMAGES[@]}"; do
    t0=$(date +%s)
    # The host's CA bundle is mounted over the image's own for RUN steps only: pip inside the build trusts what
    # this machine trusts, and nothing of it lands in a layer. --network=host: no podman bridge (10.88/16).
    podman build --quiet --format docker --network=host --pull=never --build-arg "BASE=$BASE_IMAGE" \
      -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
      --target "${TARGET[$image]}" -t "localhost/$image:$VERSION" "$FOOTFALL_ROOT" >/dev/null \
      || die "podman build of $image failed"
    say "localhost/$image:$VERSION built in $(( $(date +%s) - t0 )) s ($(podman image inspect --format '{{.Size}}' "localhost/$image:$VERSION" | numfmt --to=iec))"
  done
}

load() {
  "$FOOTFALL_ROOT/hack/cluster.sh" status >/dev/null || die "the node is not running: make cluster first"
  local image id stamp archive t0
  for image in "${IMAGES[@]}"; do
    id=$(podman image inspect --format '{{.Id}}' "localhost/$image:$VERSION") || die "no image $image: run build"
    stamp=$CACHE/$image.loaded
    if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && image_in_node "docker.io/library/$image:$VERSION"; then
      continue
    fi
    t0=$(date +%s)
    archive=$CACHE/$image.oci.tar
    podman save --quiet --format oci-archive -o "$archive.tmp" "localhost/$image:$VERSION" && mv "$archive.tmp" "$archive"
    "$FOOTFALL_ROOT/hack/cluster.sh" import "$archive" "localhost/$image:$VERSION" "docker.io/library/$image:$VERSION"
    rm -f "$archive"
    echo "$id" > "$stamp"
    say "$image:$VERSION loaded into the node in $(( $(date +%s) - t0 )) s"
  done
}

image_in_node() {
  # (grep without -q: an early exit would SIGPIPE ctr, and pipefail would call a match a miss)
  ctr --address "$("$FOOTFALL_ROOT/hack/cluster.sh" socket)" -n k8s.io images ls -q 2>/dev/null | grep -x "$1" >/dev/null
}

case "${1:-all}" in
  build) build ;;
  load) load ;;
  all) build; if "$FOOTFALL_ROOT/hack/cluster.sh" status >/dev/null 2>&1; then load; fi ;;
  list) podman images --filter reference='localhost/footfall*' ;;
  *) die "usage: $0 build|load|all|list" ;;
esac
