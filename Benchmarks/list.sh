#!/usr/bin/env bash
# Listing benchmark (issue: live IOMMU group graph): `vfio-warden list --json` as a whole process, beside
# `lspci -D -nn -k -vvv` and the classic shell loop over kernel/iommu_groups, on one generated tree of
# 4,096 devices in 1,024 groups (256-byte config files, so lspci reads it through -O sysfs.path).
# Every tool reads the generated tree, never this machine's /sys. Prints a Markdown table of medians and ratios.
#
#   Benchmarks/list.sh [--groups N] [--per-group N] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
groups=1024 per_group=4 runs=15
while (($#)); do
    case $1 in
        --groups) groups=$2; shift 2 ;;
        --per-group) per_group=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: $0 [--groups N] [--per-group N] [--runs N]" >&2; exit 2 ;;
    esac
done
for tool in hyperfine lspci /usr/bin/time; do
    command -v "$tool" >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine pciutils time; break; }
done

swift build -c release --product vfio-warden >&2
warden=$PWD/.build/release/vfio-warden
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/sys
"$warden" example-tree --host generated --groups "$groups" --per-group "$per_group" "$tree" >&2
devices=$(ls "$tree/bus/pci/devices" | wc -l)

cat > "$work/shell-loop.sh" <<'LOOP'
# The classic script from passthrough guides, reading vendor, device and driver from sysfs.
for g in "$1"/kernel/iommu_groups/*; do
    echo "IOMMU group ${g##*/}"
    for d in "$g"/devices/*; do
        driver=$(basename "$(readlink "$d/driver")" 2>/dev/null || echo none)
        echo "  ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") driver=$driver"
    done
done
LOOP

hyperfine --style none --warmup 2 --runs "$runs" --export-json "$work/list.json" \
    -n "vfio-warden list --json" "$warden list --json --sysfs-root $tree" \
    -n "lspci -D -nn -k -vvv" "lspci -D -nn -k -vvv -O sysfs.path=$tree/bus/pci" >&2
hyperfine --style none --warmup 1 --runs 3 --export-json "$work/loop.json" \
    -n "shell loop" "bash $work/shell-loop.sh $tree" >&2

peak() { # median of 5 peak resident set sizes, in MB
    for _ in 1 2 3 4 5; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p | awk '{printf "%.1f", $1/1024}'
}
rss_warden=$(peak "$warden" list --json --sysfs-root "$tree")
rss_lspci=$(peak lspci -D -nn -k -vvv -O sysfs.path="$tree/bus/pci")

python3 - "$work/list.json" "$work/loop.json" "$rss_warden" "$rss_lspci" "$devices" "$groups" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
median = {r["command"]: r["median"] for r in results}
ours = median["vfio-warden list --json"]
rss = {"vfio-warden list --json": sys.argv[3], "lspci -D -nn -k -vvv": sys.argv[4]}
print(f"{sys.argv[5]} devices in {sys.argv[6]} groups; medians of hyperfine runs (wall clock, whole process)\n")
print("| command | median | vs vfio-warden | peak RSS |")
print("|---|---|---|---|")
for command, value in median.items():
    print(f"| `{command}` | {value*1000:.1f} ms | {value/ours:.1f}x | {rss.get(command, '-')}{' MB' if command in rss else ''} |")
PY
