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
