#!/usr/bin/env bash
# Installs and prepares every tool the test suite runs against, once per
# machine: Knot DNS (the DNS tests start a real knotd on 127.0.0.1), a
# real Kubernetes 1.20 control plane built from Debian's source package
# (scripts/prepare-kube-apiserver.sh, cached outside the repository) and
# cargo-fuzz (scripts/fuzz-smoke.sh). A
# second run finds everything in place and returns in about a second.
# The tests fail, never skip, when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# openssl: the API server harness speaks HTTPS through it and makes the
# service-account key with it.
if ! command -v knotd >/dev/null || ! command -v kzonecheck >/dev/null || ! command -v knsupdate >/dev/null || ! command -v openssl >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq knot knot-dnsutils knot-dnssecutils openssl >/dev/null
fi
bash scripts/prepare-kube-apiserver.sh >/dev/null
# cargo-fuzz, for scripts/fuzz-smoke.sh: from crates.io, at the version the
# fuzz targets were written for (libFuzzer itself comes with the
# libfuzzer-sys crate, built by g++).
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.2" ]; then
  cargo install cargo-fuzz --locked --version 0.13.2 --quiet
fi
