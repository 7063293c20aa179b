#!/usr/bin/env bash
# Builds Benchmarks/JournalBench in release mode and runs it: journal records/s with group commit, the median
# latency of one durable record, and SQLite WAL (GRDB) insert rates, all in one run on the disk under BENCH_DIR.
# BENCH_SCALE=N multiplies the record counts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! dpkg -s libsqlite3-dev >/dev/null 2>&1; then
    echo "GRDB needs SQLite's headers: apt-get install -y libsqlite3-dev" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y libsqlite3-dev >/dev/null; else exit 1; fi
fi
cd "$here/JournalBench"
swift build -c release --product JournalBench >&2
bench_dir="${BENCH_DIR:-$here/JournalBench/.bench-run}"
rm -rf "$bench_dir"
mkdir -p "$bench_dir"
trap 'rm -rf "$bench_dir"' EXIT
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc: $(nproc)"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "disk: $(df -h --output=source,fstype,size,avail,target "$bench_dir" | tail -1 | tr -s ' ')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
"$(swift build -c release --show-bin-path)/JournalBench" bench "$bench_dir"
