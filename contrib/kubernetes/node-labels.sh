#!/bin/sh
# node-labels.sh — keeps this node's vfio-warden labels and annotation up to date (the DaemonSet's sidecar).
#
# Every INTERVAL seconds: asks the agent over its control socket for `vfio-warden status --k8s-labels` (a JSON
# merge patch: labels vfio-warden.io/agent=running, mode, version, groups-assigned, groups-host, groups-isolated,
# groups-violated, groups-blocked; annotation vfio-warden.io/groups with every group's state as JSON) and applies it
# with `kubectl patch node "$NODE_NAME" --type merge`. When no agent answers, it sets vfio-warden.io/agent=unreachable
# (the counts then are the last ones seen, not the node's state now).
#
# Usage: node-labels.sh [--once]
# Environment: NODE_NAME (required; the downward API's spec.nodeName), CONTROL_SOCKET (default
# /run/vfio-warden/control.sock), INTERVAL (default 60), VFIO_WARDEN and KUBECTL (the commands, default from PATH).
set -u

once=0
[ "${1:-}" = --once ] && once=1
: "${NODE_NAME:?NODE_NAME must name this node (fieldRef spec.nodeName)}"
socket=${CONTROL_SOCKET:-/run/vfio-warden/control.sock}
interval=${INTERVAL:-60}
warden=${VFIO_WARDEN:-vfio-warden}
kubectl=${KUBECTL:-kubectl}
unreachable='{"metadata":{"labels":{"vfio-warden.io/agent":"unreachable"}}}'

status=0
while :; do
    if patch=$("$warden" status --control-socket "$socket" --k8s-labels); then
        "$kubectl" patch node "$NODE_NAME" --type merge -p "$patch" >/dev/null || status=1
    else
        echo "node-labels: no agent answers at $socket; labelling $NODE_NAME vfio-warden.io/agent=unreachable" >&2
        "$kubectl" patch node "$NODE_NAME" --type merge -p "$unreachable" >/dev/null
        status=1
    fi
    [ "$once" = 1 ] && exit "$status"
    status=0
    sleep "$interval"
done
