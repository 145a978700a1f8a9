#!/usr/bin/env bash
# Prepares this machine for spindle and builds it: installs what is missing from Debian's
# packages, reserves hugepages where the kernel allows (DPDK falls back to --no-huge), and
# configures and builds build/ (release-style) and, with --asan, build-asan/.
# Safe to run again: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	dpdk dpdk-dev libdpdk-dev liburing-dev libjemalloc-dev libcmocka-dev
	redis-server redis-tools python3 python3-redis
	nftables iproute2 gnuplot-nox procps psmisc util-linux debhelper)

want_asan=0
for arg in "$@"; do
	case "$arg" in
	--asan) want_asan=1 ;;
	*) echo "usage: $0 [--asan]" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -q
	# The Debian redis-server package starts a system Redis on 6379; tests start their own.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
	if command -v systemctl >/dev/null && systemctl is-active -q redis-server 2>/dev/null; then
		$SUDO systemctl stop redis-server || true
		$SUDO systemctl disable redis-server >/dev/null 2>&1 || true
	fi
fi

# Hugepages: 512 x 2 MiB if we are root and the kernel lets us; spindled runs with --no-huge
# otherwise (see docs/ARCHITECTURE.md), so this step never fails the set-up.
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	have=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$have" -lt 512 ]; then
		echo 512 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
	fi
	if ! mount | grep -q "type hugetlbfs"; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
	fi
fi
echo "setup: hugepages reserved: $(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)"

configure() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@"
	fi
	ninja -C "$dir"
}
configure build
if [ "$want_asan" -eq 1 ]; then
	configure build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
echo "setup: built in build/"
