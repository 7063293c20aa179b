# Shared helpers for the guest scenarios (sourced; runs inside the QEMU guest only).
# The /sys paths below are the guest's. Outside the rig's guest (whose kernel command line names a
# warden.scenario=) this file refuses to load, so no scenario can touch the host's own devices.
grep -q 'warden\.scenario=' /proc/cmdline 2>/dev/null || {
    echo "Tests/VM/lib.sh: not inside the rig's QEMU guest (no warden.scenario= in /proc/cmdline); refusing to run" >&2
    exit 2
}
# Every check prints exactly one line: "PASS <scenario>/<check>: <reason>" or "FAIL ...".
SCEN=${SCEN:-$(basename "$0")}
pass() { local c=$1; shift; echo "PASS $SCEN/$c: $*"; }
fail() { local c=$1; shift; echo "FAIL $SCEN/$c: $*"; }
# cond...; check $? CHECK REASON_IF_PASS REASON_IF_FAIL   ($? first: it is expanded before the reasons)
check() {
    if [ "$1" = 0 ]; then pass "$2" "$3"; else fail "$2" "$4"; fi
}
# Indent and show a file's first lines as context for a failure (not counted as results).
show() { sed -n "1,${2:-20}p" "$1" 2>/dev/null | sed 's/^/    | /'; }
# The kernel's own view.
pci_driver() { local d=/sys/bus/pci/devices/$1/driver; [ -e "$d" ] && basename "$(readlink "$d")" || echo -; }
pci_group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
# wait_for SECONDS command...: poll every 0.2 s until the command succeeds.
wait_for() {
    local n=$(( $1 * 5 )); shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
    return 1
}
# Does the agent have this subcommand? (listed under SUBCOMMANDS in --help)
has_command() { vfio-warden --help 2>&1 | grep -qE "^ +$1( |\$)"; }
# Kernel uevents for PCI as "action address driver" lines, in SEQNUM order:
#   uevents_start FILE; ...; uevents_stop FILE  (then read FILE.txt)
uevents_start() {
    udevadm monitor --kernel --property --subsystem-match=pci >"$1" 2>&1 &
    echo $! >"$1.pid"
    wait_for 20 awk -v p="$(cat "$1.pid")" '$2 == 15 && $3 == p { f = 1 } END { exit !f }' /proc/net/netlink
}
uevents_stop() {
    sleep 0.3
    kill "$(cat "$1.pid")" 2>/dev/null; wait "$(cat "$1.pid")" 2>/dev/null
    awk 'function out() { if (seq != "" && ss == "pci") print seq, act, slot, (drv == "" ? "-" : drv); seq = act = slot = drv = ss = "" }
         /^(UDEV|KERNEL)/ { out() } /^$/ { out() }
         /^ACTION=/ { act = substr($0, 8) } /^SEQNUM=/ { seq = substr($0, 8) } /^PCI_SLOT_NAME=/ { slot = substr($0, 15) }
         /^DRIVER=/ { drv = substr($0, 8) } /^SUBSYSTEM=/ { ss = substr($0, 11) }
         END { out() }' "$1" | sort -n | cut -d' ' -f2- >"$1.txt"
}
# events_of FILE.txt ADDRESS: that device's actions, "bind(driver)" for binds, space separated.
events_of() { awk -v a="$2" '$2 == a { print $1 (($1 == "bind" || $1 == "change") && $3 != "-" ? "(" $3 ")" : "") }' "$1" | tr '\n' ' ' | sed 's/ $//'; }

# --- Helpers for the scenarios that write (assign, enforce, sriov, crash) ---------------------------
# First device bound to a driver, by address.
dev_by_driver() { local d; for d in /sys/bus/pci/devices/*; do [ "$(pci_driver "${d##*/}")" = "$1" ] && { echo "${d##*/}"; return 0; }; done; return 1; }
# The SR-IOV capable device on nvme.
sriov_pf() { local d; for d in /sys/bus/pci/devices/*; do [ -e "$d/sriov_totalvfs" ] && [ "$(pci_driver "${d##*/}")" = nvme ] && { echo "${d##*/}"; return 0; }; done; return 1; }
# The bridge above a device (its parent in the device tree).
pci_parent() { basename "$(dirname "$(readlink -f "/sys/bus/pci/devices/$1")")"; }
# Members of a device's IOMMU group, space separated.
group_members() { ls "/sys/kernel/iommu_groups/$(pci_group "$1")/devices" | tr '\n' ' ' | sed 's/ $//'; }
# Network interfaces of a PCI device (directly, or through its virtio device).
ifaces_of() { ls -d /sys/bus/pci/devices/$1/net/* /sys/bus/pci/devices/$1/virtio*/net/* 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ' | sed 's/ $//'; }
override_of() { cat "/sys/bus/pci/devices/$1/driver_override"; }
# "address=driver/override ..." for the given devices: the state a refused request must leave alone.
pci_state() { local a; for a in "$@"; do printf '%s=%s/%s ' "$a" "$(pci_driver "$a")" "$(override_of "$a")"; done | sed 's/ $//'; }
# wait_fast SECONDS command...: poll every 20 ms.
wait_fast() {
    local n=$(( $1 * 50 )); shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.02; n=$((n - 1)); done
    return 1
}
on_driver() { [ "$(pci_driver "$1")" = "$2" ]; }
# agent_start LOG ARGS...: starts `vfio-warden agent ARGS` in the background (pid in AGENT_PID) and waits up to
# 60 s for its "ready" log line. Fails when it exits first.
agent_start() {
    local log=$1; shift
    vfio-warden agent "$@" >"$log.out" 2>"$log" &
    AGENT_PID=$!
    local n=600
    while [ $n -gt 0 ]; do
        grep -qw 'ready' "$log" 2>/dev/null && return 0
        kill -0 $AGENT_PID 2>/dev/null || return 1
        sleep 0.1; n=$((n - 1))
    done
    return 1
}
# agent_stop: SIGTERM, wait; AGENT_RC holds its exit status.
agent_stop() {
    kill -TERM "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID"; AGENT_RC=$?
}
# journal_verified CHECK JOURNAL_DIR: one check line for `vfio-warden journal verify`.
journal_verified() {
    vfio-warden journal verify --journal "$2" >/tmp/verify.out 2>&1
    check $? "$1" "journal verify: $(tail -n1 /tmp/verify.out)" "journal verify failed: $(head -n3 /tmp/verify.out | tr '\n' ' ')"
}
