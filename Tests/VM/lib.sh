# Shared helpers for the guest scenarios (sourced; runs inside the QEMU guest only).
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
