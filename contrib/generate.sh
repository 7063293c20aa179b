#!/bin/sh
# Regenerates the files made from the CLI definitions and the example policy, then shows what changed:
#   contrib/completions/{vfio-warden.bash,_vfio-warden,vfio-warden.fish}   ArgumentParser's completion scripts
#   contrib/man/vfio-warden.1                                          swift-argument-parser's generate-manual plugin
#   rules/70-vfio-warden.rules                                          `rules generate` on the q35 example host
# Run it after changing a command, an option or its help, or the example policy; commit the result.
# Offline: the plugin is built from the swift-argument-parser the package already depends on.
set -eu
cd "$(dirname "$0")/.."

swift build --product vfio-warden
bin=$(swift build --show-bin-path)/vfio-warden

mkdir -p contrib/completions contrib/man
"$bin" --generate-completion-script bash > contrib/completions/vfio-warden.bash
"$bin" --generate-completion-script zsh > contrib/completions/_vfio-warden
"$bin" --generate-completion-script fish > contrib/completions/vfio-warden.fish

# A fixed date, so that the page changes only when the CLI does.
swift package plugin generate-manual --configuration debug --date 2026-11-25 \
    --authors 'vfio-warden contributors'
cp .build/plugins/GenerateManual/outputs/vfio-warden/vfio-warden.1 contrib/man/vfio-warden.1

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT INT TERM
"$bin" example-tree "$tree/q35" > /dev/null
"$bin" rules generate --sysfs-root "$tree/q35" --policy contrib/policy.example.toml --output rules/70-vfio-warden.rules
{
    echo "# Example: the rules for contrib/policy.example.toml on the q35 example host (Q35: a tree made by"
    echo "# \`vfio-warden example-tree Q35\`). contrib/generate.sh regenerates this file; for a real host run the command"
    echo "# below with your policy and without --sysfs-root."
    sed "s|$tree/q35|Q35|g" rules/70-vfio-warden.rules
} > "$tree/rules"
mv "$tree/rules" rules/70-vfio-warden.rules

git status --short contrib/completions contrib/man rules
