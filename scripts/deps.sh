#!/usr/bin/env bash
# Installs exactly the Debian packages ledgerd needs that are missing (runs as root, or with sudo).
# --test: also what `make test` needs beyond building and running (clang-tidy for `make lint`).
set -euo pipefail
pkgs=(build-essential pkg-config librocksdb-dev libnats-dev nats-server libmsgpack-dev libssl-dev
      libmicrohttpd-dev libcriterion-dev libjansson-dev libcurl4-openssl-dev curl openssl libxml2-dev)
[ "${1:-}" = "--test" ] && pkgs+=(clang-tidy)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
