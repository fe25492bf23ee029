#!/usr/bin/env bash
# Starts (or stops) a Slurm cluster on this machine, for the Slurm tests and for trying the
# "slurm" launcher: munge, slurmctld and SLURM_LOCAL_NODES (default 2) slurmd daemons from
# Debian's packages, each a virtual node (n1, n2, ...) with its share of this machine's cores
# and memory, so placement across nodes can be tried on one host. Needs root (or sudo).
# Usage: slurm-local.sh start|stop|status
set -euo pipefail
cmd="${1:-start}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
host="$(hostname -s)"

case "$cmd" in
  stop)
    # the steps' daemons too: one left behind (a job whose node was taken away) would outlive the cluster
    $SUDO pkill -x slurmd || true; $SUDO pkill -9 -x slurmstepd || true; $SUDO pkill -x slurmctld || true; $SUDO pkill -x munged || true
    echo "[slurm-local] stopped"; exit 0 ;;
  status) exec sinfo ;;
  start) ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

if sinfo -h -o %t 2>/dev/null | grep -Eq 'idle|mix|alloc'; then echo "[slurm-local] a cluster already answers:"; sinfo; exit 0; fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v srun >/dev/null || ! command -v munged >/dev/null || ! command -v mpirun >/dev/null; then
  echo "[slurm-local] installing slurmctld slurmd slurm-client munge openmpi-bin (apt; Open MPI for the mpirun-inside-Slurm tests)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge openmpi-bin
fi
# SLURM_LOCAL_HOSTS=N: the nodes are N hosts of scripts/hosts-local.sh (own network, hostname,
# /tmp), h1..hN at 10.77.0.(10+i), each with its slurmd inside; slurmctld listens on the bridge
hosts_mode="${SLURM_LOCAL_HOSTS:-}"
nodes="${SLURM_LOCAL_HOSTS:-${SLURM_LOCAL_NODES:-2}}"
[ "$nodes" -le "$(nproc)" ] || nodes="$(nproc)"
cpus="$(( $(nproc) / nodes ))"
mem_mb="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 / nodes ))"
prefix=n; [ -n "$hosts_mode" ] && prefix=h
names="$(seq -s, -f "${prefix}%g" 1 "$nodes")"
ctld_addr=127.0.0.1
if [ -n "$hosts_mode" ]; then
  bash "$(dirname "$0")/hosts-local.sh" status | grep -q "h$nodes: pid" || bash "$(dirname "$0")/hosts-local.sh" up "$nodes"
  ctld_addr=10.77.0.1
fi
echo "[slurm-local] writing /etc/slurm/slurm.conf: $nodes virtual node(s) ($names) on $host, $cpus CPU(s) and ${mem_mb} MB each"
state=/var/spool/torchlight-slurm   # its own state, so another cluster's files never clash
$SUDO mkdir -p /etc/slurm "$state/ctld" /var/log/slurm /run/munge
for i in $(seq 1 "$nodes"); do $SUDO mkdir -p "$state/d.n$i"; done
$SUDO chown munge:munge /run/munge
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=torchlight-local
SlurmctldHost=${host}(${ctld_addr})
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SlurmUser=root
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.%n.pid
SlurmdSpoolDir=${state}/d.%n
StateSaveLocation=${state}/ctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.%n.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
PartitionName=debug Nodes=${names} Default=YES MaxTime=INFINITE State=UP
CONF
for i in $(seq 1 "$nodes"); do
  if [ -n "$hosts_mode" ]; then
    echo "NodeName=h$i NodeHostname=h$i NodeAddr=10.77.0.$((10 + i)) Port=$((17000 + i)) CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN"
  else
    echo "NodeName=n$i NodeHostname=${host} NodeAddr=127.0.0.1 Port=$((17000 + i)) CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN"
  fi | $SUDO tee -a /etc/slurm/slurm.conf >/dev/null
done
# the virtual nodes' names must resolve (Lightning's SLURMEnvironment uses the first one as MASTER_ADDR)
for i in $(seq 1 "$nodes"); do
  addr=127.0.0.1; [ -n "$hosts_mode" ] && addr=10.77.0.$((10 + i))
  getent hosts "${prefix}$i" >/dev/null || { echo "[slurm-local] adding ${prefix}$i to /etc/hosts ($addr)"; echo "$addr ${prefix}$i  # torchlight slurm-local" | $SUDO tee -a /etc/hosts >/dev/null; }
done
echo "[slurm-local] starting munged, slurmctld, slurmd"
if ! pgrep -x munged >/dev/null; then
  if [ -z "$SUDO" ]; then su munge -s /bin/sh -c "/usr/sbin/munged --force"; else sudo -u munge /usr/sbin/munged --force; fi
fi
# -c: a local test cluster starts without the jobs and node states of its last run
pgrep -x slurmctld >/dev/null || $SUDO /usr/sbin/slurmctld -c
if [ -n "$hosts_mode" ]; then  # each slurmd inside its host (nsenter keeps the namespaces for the daemon and its steps)
  # each host's own slurmd, started where it is not running (a host whose processes died gets its back)
  for i in $(seq 1 "$nodes"); do
    pidf="/run/slurmd.h$i.pid"
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then continue; fi
    bash "$(dirname "$0")/hosts-local.sh" run "h$i" /usr/sbin/slurmd -N "h$i"
  done
else
  pgrep -x slurmd >/dev/null || for i in $(seq 1 "$nodes"); do $SUDO /usr/sbin/slurmd -N "n$i"; done
fi
for _ in $(seq 1 30); do
  if [ "$(sinfo -h -N -o %t 2>/dev/null | grep -Ec 'idle|mix')" -ge "$nodes" ]; then sinfo; exit 0; fi
  sleep 1
done
echo "[slurm-local] the node did not come up; the end of /var/log/slurm/slurmctld.log and slurmd.log:" >&2
tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.*.log >&2 || true
exit 1
