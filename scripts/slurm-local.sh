#!/usr/bin/env bash
# Starts (or stops) a one-node Slurm cluster on this machine, for the Slurm tests and for trying
# the "slurm" launcher: munge, slurmctld and slurmd from Debian's packages, the node described
# from this machine's cores and memory. Needs root (or sudo). Usage: slurm-local.sh start|stop|status
set -euo pipefail
cmd="${1:-start}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
host="$(hostname -s)"

case "$cmd" in
  stop)
    $SUDO pkill -x slurmd || true; $SUDO pkill -x slurmctld || true; $SUDO pkill -x munged || true
    echo "[slurm-local] stopped"; exit 0 ;;
  status) exec sinfo ;;
  start) ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

if sinfo -h -o %t 2>/dev/null | grep -Eq 'idle|mix|alloc'; then echo "[slurm-local] a cluster already answers:"; sinfo; exit 0; fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v srun >/dev/null || ! command -v munged >/dev/null; then
  echo "[slurm-local] installing slurmctld slurmd slurm-client munge (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge
fi
cpus="$(nproc)"
mem_mb="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))"
echo "[slurm-local] writing /etc/slurm/slurm.conf: node $host, $cpus CPUs, ${mem_mb} MB"
state=/var/spool/torchlight-slurm   # its own state, so another cluster's files never clash
$SUDO mkdir -p /etc/slurm "$state/ctld" "$state/d" /var/log/slurm /run/munge
$SUDO chown munge:munge /run/munge
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=torchlight-local
SlurmctldHost=${host}(127.0.0.1)
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SlurmUser=root
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=${state}/d
StateSaveLocation=${state}/ctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
echo "[slurm-local] starting munged, slurmctld, slurmd"
if ! pgrep -x munged >/dev/null; then
  if [ -z "$SUDO" ]; then su munge -s /bin/sh -c "/usr/sbin/munged --force"; else sudo -u munge /usr/sbin/munged --force; fi
fi
pgrep -x slurmctld >/dev/null || $SUDO /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || $SUDO /usr/sbin/slurmd
for _ in $(seq 1 30); do
  if sinfo -h -o %t 2>/dev/null | grep -Eq 'idle|mix'; then sinfo; exit 0; fi
  sleep 1
done
echo "[slurm-local] the node did not come up; the end of /var/log/slurm/slurmctld.log and slurmd.log:" >&2
tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
