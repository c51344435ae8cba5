#!/usr/bin/env bash
# Installs the Debian packages the real test node (test/node) needs: containerd, runc, the CNI plugins, iptables,
# buildah and debootstrap (images), util-linux's nsenter. Installs only what is missing.
# Usage: scripts/node-packages.sh          install what is missing (root, apt-get)
#        scripts/node-packages.sh --check  exit 0 if this machine can run the node (root, and the packages are
#                                          there or apt-get can install them), 1 otherwise; prints nothing
set -euo pipefail

# command or file -> the package that provides it
declare -A PROVIDES=(
  [/usr/bin/containerd]=containerd [/usr/bin/ctr]=containerd [/usr/sbin/runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins [/usr/sbin/iptables]=iptables [/usr/sbin/conntrack]=conntrack
  [/usr/bin/buildah]=buildah [/usr/sbin/debootstrap]=debootstrap [/usr/bin/nsenter]=util-linux
  [/usr/sbin/ip]=iproute2 [/usr/bin/openssl]=openssl
)
missing=()
for f in "${!PROVIDES[@]}"; do [[ -x "$f" ]] || missing+=("${PROVIDES[$f]}"); done
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [[ "${1:-}" == --check ]]; then
  [[ "$(uname -s)" == Linux && "$(id -u)" == 0 ]] || exit 1
  ((${#missing[@]} == 0)) || command -v apt-get >/dev/null 2>&1 || exit 1
  exit 0
fi

if ((${#missing[@]} == 0)); then
  echo "node-packages: all installed" >&2
  exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "node-packages: missing ${missing[*]}; installing them needs root and apt-get" >&2
  exit 1
fi
echo "node-packages: installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
