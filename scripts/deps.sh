#!/bin/bash
# SPDX-License-Identifier: MIT
# Install the Debian packages that building, testing and the demo need; only what is missing.
set -euo pipefail

# Keep this list the one place that names build and test dependencies.
PKGS=(
  gcc make pkg-config
  libpci-dev pciutils pci.ids
  libudev-dev libsystemd-dev
  libjson-c-dev libinih-dev
  libfuse3-dev fuse3
  libcmocka-dev
  util-linux iproute2 jq
)
[ "${MXGPU_DEPS_EXTRA:-}" ] && PKGS+=(${MXGPU_DEPS_EXTRA})

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run 'make deps' as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# An old package list may not know the packages: update once, then install.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
