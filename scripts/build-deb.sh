#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the Debian package (debian/) from a copy of the tree in $BUILD/deb, so nothing is written
# next to the checkout; prints the path of the .deb on the last line.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$src/$BUILD
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
out=$BUILD/deb
tree=$out/mxgpu-$version
rm -rf "$out" && mkdir -p "$tree"
# Tracked and new (not ignored) files: what a clean clone plus the work in progress holds.
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tree")
# The package build has its own build folder: none of ours may leak into it (make clean!).
(cd "$tree" && env -u BUILD -u MAKEFLAGS -u MAKELEVEL -u MFLAGS dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
  tail -n 30 "$out/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
  exit 1
}
deb=$(ls "$out"/mxgpu_"$version"_*.deb)
echo "$deb"
