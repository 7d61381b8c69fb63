#!/usr/bin/env bash
# Make apt able to fetch what the project needs, derived from this machine's
# own apt configuration (no archive host is named here):
#  - armhf as a foreign architecture (guest kernel, busybox, real programs);
#  - a deb-src entry for Debian 13 "trixie" (the QEMU 10.0.x source package),
#    using the same Debian mirror the machine already uses;
#  - with --trixie-armhf (the guest builder passes it for the trixie guest
#    kernels): trixie's armhf binary packages from that mirror, pinned at
#    priority -1 so that apt never installs or upgrades anything from them
#    (the guest builder downloads the kernel .debs it needs by exact
#    version, which the pin does not prevent).
# usage: scripts/apt-sources.sh [--trixie-armhf]
set -euo pipefail
trixie_armhf=0
case "${1:-}" in
"") ;;
--trixie-armhf) trixie_armhf=1 ;;
*) echo "apt-sources: unknown argument '$1' (usage: $0 [--trixie-armhf])" >&2; exit 2 ;;
esac
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

changed=0
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
	echo "hspt: adding armhf as a foreign dpkg architecture"
	$SUDO dpkg --add-architecture armhf
	changed=1
fi

# First URI of an apt source that serves Debian's main archive (not
# -security, not a third-party repository), in deb822 or one-line form;
# if there is none, says so with the hint $1 and fails.
debian_mirror() {
	local mirror
	mirror=$( { grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
		    grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
			sed -E 's/\[[^]]*\]//' | awk '{print $2}' || true; } |
		  grep -E '/debian/?$' | grep -v security | head -n1 || true)
	if [ -z "$mirror" ]; then
		echo "hspt: cannot find a Debian archive in this machine's apt sources;" >&2
		echo "      $1" >&2
		return 1
	fi
	echo "$mirror"
}

list=/etc/apt/sources.list.d/hspt-qemu-src.sources
if [ ! -e "$list" ]; then
	mirror=$(debian_mirror "add a deb-src entry for suite 'trixie' by hand, or use QEMU_TARBALL=/QEMU_SRC=") || exit 1
	echo "hspt: adding deb-src for trixie from $mirror ($list)"
	$SUDO tee "$list" >/dev/null <<EOT
# Added by HSPT for QEMU (scripts/apt-sources.sh): QEMU 10.0.x source package.
Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	changed=1
fi

bin_list=/etc/apt/sources.list.d/hspt-trixie-armhf.sources
bin_pref=/etc/apt/preferences.d/hspt-trixie-armhf
if [ "$trixie_armhf" = 1 ] && { [ ! -e "$bin_list" ] || [ ! -e "$bin_pref" ]; } &&
	apt-cache policy 2>/dev/null | grep -q 'n=trixie,.*b=armhf'; then
	# The machine has trixie armhf packages of its own: use them, and leave
	# their priorities alone.
	trixie_armhf=0
fi
if [ "$trixie_armhf" = 1 ] && { [ ! -e "$bin_list" ] || [ ! -e "$bin_pref" ]; }; then
	mirror=$(debian_mirror "the trixie guest kernels need a 'deb' entry for suite 'trixie', architecture armhf") || exit 1
	# The pin first, so that the packages are never candidates, not even
	# for a moment. It covers trixie's armhf packages, which on this
	# machine come from the entry below only (checked above).
	echo "hspt: pinning trixie's armhf packages at priority -1, never installed ($bin_pref)"
	$SUDO tee "$bin_pref" >/dev/null <<EOT
# Added by HSPT for QEMU (scripts/apt-sources.sh): the trixie armhf packages
# of $bin_list are there for the guest builder to download Debian 13's
# kernels by exact version; apt installs and upgrades nothing from them.
Package: *
Pin: release n=trixie,b=armhf
Pin-Priority: -1
EOT
	echo "hspt: adding trixie's armhf packages from $mirror ($bin_list)"
	$SUDO tee "$bin_list" >/dev/null <<EOT
# Added by HSPT for QEMU (scripts/apt-sources.sh): Debian 13's armhf guest
# kernels (scripts/build-guest.sh KERNEL=trixie, trixie-lpae); pinned at
# priority -1 in $bin_pref.
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Architectures: armhf
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	changed=1
fi

stamp=/var/lib/apt/lists/.hspt-updated
if [ "$changed" = 1 ] || [ ! -e "$stamp" ]; then
	# A mirror in the middle of a sync answers with a size mismatch: retry.
	log=$(mktemp)
	for try in 1 2 3; do
		echo "hspt: apt-get update (try $try of 3)"
		if $SUDO apt-get update -q >"$log" 2>&1; then
			$SUDO touch "$stamp"
			rm -f "$log"
			exit 0
		fi
		sleep 5
	done
	grep -E '^(E|W):' "$log" | sort -u >&2 || true
	rm -f "$log"
	# Do not retry on every call: what apt has is used, and a missing
	# package is reported by name when it is needed.
	$SUDO touch "$stamp"
	echo "hspt: warning: apt-get update failed for some lists (above); going on with the package lists apt has" >&2
fi
