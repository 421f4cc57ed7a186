#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm driver (engine/src/search/slurm.rs) and
# for its tests (scripts/test.sh runs them against it). Debian 12 (Slurm 22.05), as root;
# works without systemd (containers): the daemons are started directly.
#
# Usage: scripts/slurm-local.sh start    install slurm-wlm + munge if missing,
#                                        write the config, start munged,
#                                        slurmctld and slurmd, wait for `idle`
#        scripts/slurm-local.sh stop     stop the daemons this script started
#        scripts/slurm-local.sh status   sinfo + squeue
#
# Accounting is off (no slurmdbd): `sacct` does not work; finished jobs stay
# visible to `scontrol show job` for MinJobAge seconds.
# Logs: /var/log/slurm/{slurmctld,slurmd}.log, /var/log/munge/munged.log.
set -euo pipefail

run_dir=/run/rewardsmith-slurm
log_dir=/var/log/slurm
conf=/etc/slurm/slurm.conf
wait_s=${SLURM_LOCAL_WAIT_S:-60}

die() {
    echo "slurm-local: $*" >&2
    exit 1
}

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root"
}

# True when the pid in pid file $1 is alive.
alive() {
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    if command -v sbatch >/dev/null && command -v slurmctld >/dev/null \
        && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    echo "slurm-local: installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

start_munge() {
    install -d -m 755 "$run_dir"
    install -d -o munge -g munge -m 700 /etc/munge
    install -d -o munge -g munge -m 711 /var/lib/munge
    install -d -o munge -g munge -m 700 /var/log/munge
    install -d -o munge -g munge -m 755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return # already running (ours or someone else's)
    fi
    # A stale socket or pid file from an earlier, killed munged blocks the start.
    rm -f /run/munge/munged.pid
    # --force: start even if the socket file exists (left by a dead munged).
    runuser -u munge -- /usr/sbin/munged --force
    touch "$run_dir/munged.ours" # so that `stop` stops only a munged we started
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    tail -n 20 /var/log/munge/munged.log >&2 || true
    die "munged did not start"
}

write_config() {
    local host cpus mem_kb mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
    # Leave 1 GiB (or a quarter on small machines) to the OS and the daemons;
    # slurmd drains the node if RealMemory exceeds what it finds.
    mem_mb=$((mem_kb / 1024))
    if [ "$mem_mb" -gt 4096 ]; then
        mem_mb=$((mem_mb - 1024))
    else
        mem_mb=$((mem_mb * 3 / 4))
    fi
    install -d -m 755 /etc/slurm "$log_dir" /var/spool/slurmctld /var/spool/slurmd "$run_dir"
    local tmp
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
# Written by rewardsmith scripts/slurm-local.sh: a one-node cluster.
ClusterName=rewardsmith
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# Debian's default MailProg (/bin/mail) is usually absent; slurmctld logs an error.
MailProg=/bin/true
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# Finished jobs stay in slurmctld (scontrol show job) for 10 minutes, since
# there is no accounting database to ask afterwards.
MinJobAge=600
MaxArraySize=10001
SlurmctldPidFile=$run_dir/slurmctld.pid
SlurmdPidFile=$run_dir/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldTimeout=60
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if [ -f "$conf" ] && cmp -s "$tmp" "$conf"; then
        rm -f "$tmp"
        return 1 # unchanged
    fi
    mv "$tmp" "$conf"
    chmod 644 "$conf"
    return 0
}

log_tails() {
    local f
    for f in "$log_dir/slurmctld.log" "$log_dir/slurmd.log" /var/log/munge/munged.log; do
        echo "---- tail $f" >&2
        tail -n 25 "$f" >&2 2>/dev/null || true
    done
}

node_state() {
    sinfo -h -o %T 2>/dev/null | head -n 1
}

# The time (epoch seconds) slurmd last registered with slurmctld, 0 if never.
# slurmctld restores the node's last state from its state file, so `idle` alone
# does not prove that the slurmd just started has registered.
slurmd_registered_at() {
    local t
    t=$(scontrol show node "$(hostname -s)" 2>/dev/null |
        sed -n 's/.*SlurmdStartTime=\([^ ]*\).*/\1/p')
    date -d "$t" +%s 2>/dev/null || echo 0
}

start() {
    need_root
    install_packages
    start_munge
    local changed=0
    write_config && changed=1
    if [ "$changed" = 1 ] && alive "$run_dir/slurmctld.pid"; then
        echo "slurm-local: slurm.conf changed, restarting the daemons"
        stop_slurm
    fi
    if ! alive "$run_dir/slurmctld.pid"; then
        # Both daemons fork into the background and write their pid files.
        slurmctld || { log_tails; die "slurmctld failed to start"; }
    fi
    local since=0
    if ! alive "$run_dir/slurmd.pid"; then
        since=$(($(date +%s) - 1))
        slurmd || { log_tails; die "slurmd failed to start"; }
    fi
    local state=""
    for _ in $(seq "$wait_s"); do
        state=$(node_state)
        case "$state" in
        idle* | mixed* | allocated* | completing*)
            [ "$(slurmd_registered_at)" -ge "$since" ] && break
            state="registering"
            ;;
        down* | drain*)
            # A node that was down (e.g. after a restart) is brought back.
            scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true
            ;;
        esac
        sleep 1
    done
    case "$state" in
    idle* | mixed* | allocated* | completing*) ;;
    *)
        log_tails
        sinfo -N -l >&2 || true
        die "node not idle after ${wait_s}s (state '${state:-none}')"
        ;;
    esac
    echo "slurm-local: running ($(sinfo -h -o '%P %D %T %C'))"
}

# Sends TERM to the daemon in pid file $1 and waits up to 10 s for it to go.
stop_pid() {
    local file=$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop_slurm() {
    stop_pid "$run_dir/slurmd.pid"
    stop_pid "$run_dir/slurmctld.pid"
}

stop() {
    need_root
    stop_slurm
    if [ -e "$run_dir/munged.ours" ]; then
        stop_pid /run/munge/munged.pid
        rm -f "$run_dir/munged.ours"
    fi
    echo "slurm-local: stopped"
}

status() {
    if ! command -v sinfo >/dev/null; then
        echo "slurm-local: Slurm is not installed"
        return 1
    fi
    if ! scontrol ping 2>/dev/null | grep -q UP; then
        echo "slurm-local: slurmctld is not running"
        return 1
    fi
    sinfo
    squeue
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
