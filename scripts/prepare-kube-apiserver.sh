#!/usr/bin/env bash
# Prepare a real Kubernetes 1.20 control plane for jardin's integration tests:
# kube-apiserver and kube-controller-manager built from Debian 12's
# `kubernetes` source package, plus etcd from the `etcd-server` package.
#
# The binaries are cached OUTSIDE the repository, in
#   ${JARDIN_KUBE_CACHE:-/var/cache/jardin/kube-1.20}/bin/
# A cold run downloads the source and builds (~8-10 min on 2 cores); a warm
# run (binaries + stamp present, etcd on PATH) returns in well under a second.
#
# The test harness (crates/jardin/tests/support/kube_apiserver.rs) finds the
# binaries in $JARDIN_KUBE_BIN, else in the default cache's bin/.
#
# Environment:
#   JARDIN_KUBE_CACHE       cache directory (default /var/cache/jardin/kube-1.20)
#   JARDIN_KUBE_KEEP_BUILD  set to 1 to keep the ~2.5 GB build tree after building
#   JARDIN_KUBE_REBUILD     set to 1 to ignore the stamp and rebuild
#
# Why not Debian's binaries: bookworm ships only kubectl (kubernetes-client)
# from this source. And why patch: the vendored github.com/modern-go/reflect2
# v1.0.1 crashes the apiserver (nil map / unexpected fault address) on the
# first server-side apply when built with Go >= 1.18; Debian's reflect2 1.0.2
# (golang-github-modern-go-reflect2-dev) fixes it.
set -euo pipefail

# Bump when the build recipe changes, so that warm caches are rebuilt.
RECIPE=1
CACHE=${JARDIN_KUBE_CACHE:-/var/cache/jardin/kube-1.20}
BIN="$CACHE/bin"
STAMP="$CACHE/stamp"
BUILD="$CACHE/build"
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2

log() { printf '[prepare-kube-apiserver] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "must run as root (or with sudo available) to use apt-get"
  SUDO=(sudo)
fi
apt_get() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

ensure_etcd() {
  if ! command -v etcd >/dev/null; then
    log "installing etcd-server"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends etcd-server >/dev/null
  fi
  command -v etcd >/dev/null || die "etcd not on PATH after installing etcd-server"
}

warm() {
  [[ ${JARDIN_KUBE_REBUILD:-0} != 1 ]] &&
    [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -f $STAMP ]] &&
    grep -qx "recipe=$RECIPE" "$STAMP"
}

report() {
  log "kube-apiserver:          $BIN/kube-apiserver ($("$BIN/kube-apiserver" --version))"
  log "kube-controller-manager: $BIN/kube-controller-manager"
  log "etcd:                    $(command -v etcd) ($(etcd --version 2>/dev/null | head -n1))"
  log "source:                  $(grep '^source=' "$STAMP" | cut -d= -f2-)"
  echo "$BIN"
}

# Fast path: no apt, no lock.
if warm; then
  ensure_etcd
  report
  exit 0
fi

"${SUDO[@]}" mkdir -p "$CACHE"
[[ -w $CACHE ]] || "${SUDO[@]}" chown "$(id -u):$(id -g)" "$CACHE"

# One build at a time per cache directory.
exec 9>"$CACHE/.lock"
flock 9
if warm; then # another run finished while we waited
  ensure_etcd
  report
  exit 0
fi

start=$(date +%s)

# 1. Debian source repositories (deb-src), mirroring the existing deb entries.
if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes'; then
  src_list=/etc/apt/sources.list.d/jardin-src.sources
  if [[ ! -f $src_list ]]; then
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      log "adding deb-src entries ($src_list) from debian.sources"
      sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        "${SUDO[@]}" tee "$src_list" >/dev/null
    else
      log "adding deb-src entries ($src_list) for bookworm"
      "${SUDO[@]}" tee "$src_list" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
  fi
fi
log "apt-get update"
apt_get update -qq

# 2. Build dependencies (debian/control: debhelper, bash-completion, golang-go,
#    jq, rsync; we only run the Makefile, so debhelper is not needed).
log "installing build dependencies and etcd-server"
apt_get install -y -qq --no-install-recommends \
  golang-go rsync jq make dpkg-dev xz-utils ca-certificates \
  golang-github-modern-go-reflect2-dev etcd-server >/dev/null
ensure_etcd
[[ -f $REFLECT2_SRC/reflect2.go ]] || die "$REFLECT2_SRC missing (golang-github-modern-go-reflect2-dev)"

# 3. Source.
rm -rf "$BUILD"
mkdir -p "$BUILD"
cd "$BUILD"
log "apt-get source kubernetes (into $BUILD)"
# As root, apt warns that it cannot drop privileges to _apt for the download;
# let _apt write the directory when it exists.
if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$BUILD"; fi
apt-get source -qq kubernetes >/dev/null
SRC=$(find "$BUILD" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
[[ -n $SRC && -f $SRC/debian/changelog ]] || die "apt-get source kubernetes produced no source tree"
SRC_VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
log "source version $SRC_VERSION"

# 4. Replace the vendored reflect2 v1.0.1 with Debian's v1.0.2. The Makefile
#    builds in GOPATH mode (hack/lib/init.sh exports GO111MODULE=off), so the
#    vendor tree is read directly; go.mod/go.sum/vendor/modules.txt are not
#    consulted. We still point the top-level replace directive and
#    modules.txt at v1.0.2 so that the tree stays self-consistent.
log "replacing vendor/github.com/modern-go/reflect2 with Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"
rsync -a --delete --exclude go.mod "$REFLECT2_SRC/" "$SRC/vendor/github.com/modern-go/reflect2/"
sed -i -E 's#(=> github.com/modern-go/reflect2) v1\.0\.1$#\1 v1.0.2#' "$SRC/go.mod" "$SRC/vendor/modules.txt"
grep -q 'reflect2 => github.com/modern-go/reflect2 v1.0.2' "$SRC/vendor/modules.txt" ||
  die "vendor/modules.txt has no reflect2 replace line to update (source changed?)"

# 5. Build as debian/rules does (GOPATH=$SRC/.go with a k8s.io/kubernetes
#    symlink, CGO_ENABLED=0, HOME set). The version ldflags come from the
#    git-archive magic in hack/lib/version.sh (v1.20.2).
log "building kube-apiserver and kube-controller-manager (takes ~8 min on 2 cores)"
mkdir -p "$SRC/.go/src/k8s.io" "$BUILD/home"
[[ -L $SRC/.go/src/k8s.io/kubernetes ]] || ln -s ../../.. "$SRC/.go/src/k8s.io/kubernetes"
(
  cd "$SRC"
  env -u GOFLAGS -u GO111MODULE \
    PATH="/usr/lib/go/bin:$PATH" \
    GOPATH="$SRC/.go" \
    HOME="$BUILD/home" \
    GOCACHE="$BUILD/gocache" \
    GOPROXY=off \
    CGO_ENABLED=0 \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
) >"$BUILD/build.log" 2>&1 || {
  tail -n 60 "$BUILD/build.log" >&2
  die "build failed; full log in $BUILD/build.log"
}

# 6. Install into the cache and stamp.
rm -f "$STAMP"
mkdir -p "$BIN"
for b in kube-apiserver kube-controller-manager; do
  install -m 0755 "$SRC/_output/bin/$b" "$BIN/$b.tmp"
  mv -f "$BIN/$b.tmp" "$BIN/$b"
done
"$BIN/kube-apiserver" --version | grep -q 'v1\.20\.' || die "unexpected kube-apiserver version: $("$BIN/kube-apiserver" --version)"
{
  echo "recipe=$RECIPE"
  echo "source=kubernetes $SRC_VERSION"
  echo "reflect2=$(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"
  echo "go=$(/usr/lib/go/bin/go version)"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"

if [[ ${JARDIN_KUBE_KEEP_BUILD:-0} != 1 ]]; then
  log "removing build tree $BUILD"
  rm -rf "$BUILD"
fi
log "done in $(($(date +%s) - start)) s"
report
