#!/usr/bin/env bash
# Installs what tests/e2e/test_podman.py needs, from Debian, idempotently (root; no-op when present):
#   podman                       4.x still has the CNI network backend (5.x dropped it)
#   runc                         the OCI runtime the tests configure (crun refuses this machine's cgroups)
#   busybox-static               /bin/busybox, statically linked: the whole test image
#   containernetworking-plugins  the reference plugins in /usr/lib/cni (the comparison runs)
#   iproute2, util-linux         ip, nsenter, unshare
# Nothing is configured system-wide: the tests keep all podman state in their own temporary dirs.
set -euo pipefail

pkgs=(podman runc busybox-static containernetworking-plugins iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "podman_setup.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
podman --version
