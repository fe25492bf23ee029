#!/usr/bin/env bash
# Hosts on one machine, for trying torchlight across hosts without a cluster: N "hosts", each
# a set of Linux namespaces held open by one sleeping process:
#   - network: its own interface eth0 with address 10.77.0.(10+i)/24 on a bridge (tlbr0,
#     10.77.0.1 on this machine), and its own loopback; hosts reach each other by address;
#   - UTS: its own hostname (h1, h2, ...);
#   - mount: its own /tmp and /run/torchlight-host (private folders), its own /etc/hosts
#     naming every host, and one shared folder at the same path on every host
#     ($TORCHLIGHT_HOSTS_SHARED, default /srv/torchlight-shared), standing in for NFS.
# Commands run inside a host with `scripts/hosts-local.sh run h2 CMD...` (nsenter into its
# namespaces: unlike `ip netns exec`, long-lived daemons such as slurmd keep them). Needs root.
#
#   scripts/hosts-local.sh up [N]      start N hosts (default 2); prints each one's address
#   scripts/hosts-local.sh run HOST CMD...
#   scripts/hosts-local.sh status
#   scripts/hosts-local.sh down        stop them, remove the bridge and the veth pairs
set -euo pipefail
STATE=/run/torchlight-hosts
SHARED=${TORCHLIGHT_HOSTS_SHARED:-/srv/torchlight-shared}
BRIDGE=tlbr0
NET=10.77.0
say() { echo "[hosts-local] $*"; }
[ "$(id -u)" = 0 ] || { echo "[hosts-local] needs root (namespaces, veth pairs, mounts); run it as root" >&2; exit 1; }

pid_of() {
  local f="$STATE/$1.pid"
  [ -f "$f" ] || { echo "[hosts-local] no host named $1 (up first; hosts: $(ls "$STATE" 2>/dev/null | sed -n 's/\.pid$//p' | tr '\n' ' '))" >&2; exit 2; }
  local p; p=$(cat "$f")
  [ -d "/proc/$p" ] || { echo "[hosts-local] host $1's process ($p) is gone; run down, then up" >&2; exit 2; }
  echo "$p"
}

down() {
  for f in "$STATE"/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  for l in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^tlh[0-9]' || true); do ip link del "$l" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$STATE"
  say "down"
}

up() {
  local n=${1:-2}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || { echo "[hosts-local] N must be 1 to 200, got $n" >&2; exit 2; }
  [ -d "$STATE" ] && down >/dev/null
  mkdir -p "$STATE" "$SHARED"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  {
    echo "127.0.0.1 localhost"
    for i in $(seq 1 "$n"); do echo "$NET.$((10 + i)) h$i"; done
  } > "$STATE/hosts"
  for i in $(seq 1 "$n"); do
    local h="h$i" dir="$STATE/h$i"
    mkdir -p "$dir/tmp" "$dir/run"
    # the host's namespaces, held by a sleeping process; mounts made in it stay private to it
    unshare --net --uts --mount --propagation private --fork sleep infinity </dev/null >/dev/null 2>&1 &
    local holder=$!
    # the forked child is the one inside the namespaces
    local p=""
    for _ in $(seq 1 50); do p=$(pgrep -P "$holder" -x sleep || true); [ -n "$p" ] && break; sleep 0.05; done
    [ -n "$p" ] || { echo "[hosts-local] could not start host $h" >&2; exit 1; }
    echo "$p" > "$STATE/$h.pid"
    ip link add "tlh$i" type veth peer name eth0 netns "/proc/$p/ns/net"
    ip link set "tlh$i" master "$BRIDGE" up
    nsenter -t "$p" -n sh -c "ip link set lo up && ip addr add $NET.$((10 + i))/24 dev eth0 && ip link set eth0 up && ip route add default via $NET.1"
    nsenter -t "$p" -u hostname "$h"
    nsenter -t "$p" -m sh -c "mount --bind '$dir/tmp' /tmp && chmod 1777 /tmp && mkdir -p /run/torchlight-host && mount --bind '$dir/run' /run/torchlight-host && mount --bind '$STATE/hosts' /etc/hosts"
    say "$h: $NET.$((10 + i)) (pid $p), private /tmp, shared $SHARED"
  done
}

run() {
  local h=$1; shift
  local p; p=$(pid_of "$h")
  exec nsenter -t "$p" -n -u -m --wd="$PWD" "$@"
}

status() {
  [ -d "$STATE" ] || { say "no hosts"; return 0; }
  for f in "$STATE"/*.pid; do
    [ -e "$f" ] || continue
    local h; h=$(basename "$f" .pid)
    local p; p=$(cat "$f")
    if [ -d "/proc/$p" ]; then say "$h: pid $p, $(nsenter -t "$p" -n ip -4 -o addr show eth0 | awk '{print $4}')"; else say "$h: gone"; fi
  done
}

case "${1:-}" in
  up) up "${2:-2}" ;;
  down) down ;;
  run) [ $# -ge 3 ] || { echo "usage: $0 run HOST CMD..." >&2; exit 2; }; shift; run "$@" ;;
  status) status ;;
  *) echo "usage: $0 up [N] | run HOST CMD... | status | down" >&2; exit 2 ;;
esac
