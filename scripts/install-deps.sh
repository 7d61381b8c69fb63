#!/usr/bin/env bash
# Install the Debian packages the project needs (host build tools, the ARM
# cross compiler, libclang for bindgen), saying what it installs.
# Usage: scripts/install-deps.sh [PKG...]   (default: the whole list below)
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

HOST_PKGS=(
	# QEMU build
	ninja-build libglib2.0-dev libpixman-1-dev libfdt-dev flex bison
	python3-venv pkg-config ccache dpkg-dev xz-utils patch rsync
	# default guest
	cpio gcc-arm-linux-gnueabihf file binutils
	# plugin (bindgen needs libclang)
	libclang-dev clang
	# tests: the statistics table and viewer in a real terminal
	tmux
	# Android SDK image layouts (run-guest.sh --avd, make android-image):
	# ext4 images, qcow2 overlays, sparse images
	e2fsprogs qemu-utils android-sdk-libsparse-utils
)
[ $# -gt 0 ] && HOST_PKGS=("$@")

missing=()
for p in "${HOST_PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

"$(dirname "$0")/apt-sources.sh"
echo "hspt: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! $SUDO apt-get install -y -q "${missing[@]}" >"$log" 2>&1; then
	# A machine image built from newer point-release packages than its
	# mirror serves leaves "-dev needs lib (= V) but W is installed": pin
	# the runtime library to the version the -dev package was built with.
	pins=$(sed -nE 's/.*Depends: ([^ ]+) \(= ([^)]+)\) but [^ ]+ is to be installed.*/\1=\2/p' "$log" | sort -u)
	if [ -z "$pins" ]; then
		cat "$log" >&2
		exit 1
	fi
	echo "hspt: aligning library versions with their -dev packages: $pins"
	$SUDO apt-get install -y -q --allow-downgrades "${missing[@]}" $pins
fi
rm -f "$log"
