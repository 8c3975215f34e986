#!/usr/bin/env bash
# Installs what Tollgate needs on a fresh Debian 12 machine (as root) and builds the native addon.
# Idempotent and quick when everything is present; the README's two commands both start with it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have clang     || need_pkgs+=(clang)
have llc       || need_pkgs+=(llvm)
have bpftool   || need_pkgs+=(bpftool)
have ip        || need_pkgs+=(iproute2)
have iptables  || need_pkgs+=(iptables)
have ipset     || need_pkgs+=(ipset)
have nft       || need_pkgs+=(nftables)
have iperf3    || need_pkgs+=(iperf3)
[ -f /usr/include/bpf/libbpf.h ] || need_pkgs+=(libbpf-dev)
[ -f /usr/include/linux/bpf.h ]  || need_pkgs+=(linux-libc-dev)
[ -f /usr/include/x86_64-linux-gnu/asm/types.h ] || [ "$(uname -m)" != x86_64 ] || need_pkgs+=(linux-libc-dev)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}" >&2
  if [ "$(id -u)" != 0 ]; then echo "setup: must run as root to install packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi

# npm dependencies: install when missing or when package-lock.json changed since the last install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund >&2
fi

# The native addon (node-gyp against the system libbpf): rebuilt when its sources are newer than the binary.
addon=build/Release/tollgate_native.node
if [ -f binding.gyp ] && [ -d native ]; then
  if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -print -quit)" ]; then
    echo "setup: building the native addon" >&2
    # No network here but the registries: build against the headers that Node ships (Debian's nodejs puts them
    # in /usr/include/node; a tarball install under its own prefix), never a download of them.
    nodedir=$(node -p "require('path').resolve(process.execPath, '../..')")
    [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
    npx --no-install node-gyp rebuild --nodedir="$nodedir" >&2
  fi
fi
