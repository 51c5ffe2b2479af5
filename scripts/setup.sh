#!/usr/bin/env bash
# Prepares a Debian 12 machine for birdcage: Debian packages, Node.js check, npm dependencies.
#   scripts/setup.sh          packages for the simulator and the test suite (needs root for apt)
#   scripts/setup.sh --quick  only npm dependencies (enough for the simulator and `birdcage ipam plan`)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

# Debian packages the test suite and real mode use. Installed only when one is missing, so a second
# run costs nothing.
PACKAGES=(iproute2 iputils-ping nftables iptables ipset tcpdump tshark etcd-server etcd-client bird2 gobgpd frr procps python3)
BINARIES=(ip ping nft iptables ipset tcpdump tshark etcd etcdctl bird gobgpd vtysh pgrep python3)

need_node=0
if ! command -v node >/dev/null 2>&1; then need_node=1; fi

missing=0
if [ "$quick" = 0 ]; then
  for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null 2>&1 || { missing=1; break; }; done
fi

if [ "$missing" = 1 ] || [ "$need_node" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: Debian packages are missing; run this script as root (sudo $0)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  pkgs=()
  [ "$missing" = 1 ] && pkgs+=("${PACKAGES[@]}")
  [ "$need_node" = 1 ] && pkgs+=(nodejs npm)
  # tshark asks whether non-root users may capture; preseed the answer so the install never prompts.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: birdcage needs Node.js >= 20.19 (found $(node --version)); install a newer Node.js and rerun" >&2
  exit 2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
