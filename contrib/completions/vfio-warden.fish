function __vfio-warden_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vfio-warden_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __vfio-warden_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __vfio-warden_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __vfio-warden_parse_tokens -S
    set -l unparsed_tokens (__vfio-warden_tokens -pc)
    switch $unparsed_tokens[1]
    case 'vfio-warden'
        __vfio-warden_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'list'
            __vfio-warden_parse_subcommand 0 'sysfs-root=' 'json' 'xml' 'version' 'h/help'
        case 'show'
            __vfio-warden_parse_subcommand 1 'sysfs-root=' 'json' 'xml' 'version' 'h/help'
        case 'example-tree'
            __vfio-warden_parse_subcommand 1 'host=' 'groups=' 'per-group=' 'no-iommu' 'with-proc' 'version' 'h/help'
        case 'snapshot'
            __vfio-warden_parse_subcommand 1 'sysfs-root=' 'version' 'h/help'
        case 'watch'
            __vfio-warden_parse_subcommand 0 'sysfs-root=' 'source=' 'json' 'count=' 'timeout=' 'replay=' 'receive-buffer=' 'version' 'h/help'
        case 'journal'
            __vfio-warden_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'show'
                __vfio-warden_parse_subcommand 0 'sysfs-root=' 'journal=' 'device=+' 'group=+' 'owner=+' 'kind=+' 'since=' 'until=' 'f/follow' 'json' 'version' 'h/help'
            case 'verify'
                __vfio-warden_parse_subcommand 0 'sysfs-root=' 'journal=' 'against-journald' 'journald-json=' 'version' 'h/help'
            case 'stats'
                __vfio-warden_parse_subcommand 0 'sysfs-root=' 'journal=' 'device=+' 'group=+' 'owner=+' 'kind=+' 'since=' 'until=' 'json' 'version' 'h/help'
            end
        case 'check'
            __vfio-warden_parse_subcommand 1 'sysfs-root=' 'proc-root=' 'policy=' 'json' 'validate-only' 'version' 'h/help'
        case 'policy'
            __vfio-warden_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'check'
                __vfio-warden_parse_subcommand 1 'json' 'version' 'h/help'
            end
        case 'simulate'
            __vfio-warden_parse_subcommand 0 'sysfs-root=' 'scenario=' 'policy=' 'proc-root=' 'journal=' 'work-dir=' 'version' 'h/help'
        case 'plan'
            __vfio-warden_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'assign'
                __vfio-warden_parse_subcommand -r 1 'sysfs-root=' 'policy=' 'proc-root=' 'journal=' 'state-dir=' 'no-journald' 'step-timeout=' 'owner=' 'quarantine=' 'json' 'control-socket=' 'direct' 'version' 'h/help'
            case 'release'
                __vfio-warden_parse_subcommand -r 1 'sysfs-root=' 'policy=' 'proc-root=' 'journal=' 'state-dir=' 'no-journald' 'step-timeout=' 'owner=' 'json' 'control-socket=' 'direct' 'version' 'h/help'
            end
        case 'assign'
            __vfio-warden_parse_subcommand -r 1 'sysfs-root=' 'policy=' 'proc-root=' 'journal=' 'state-dir=' 'no-journald' 'step-timeout=' 'owner=' 'quarantine=' 'json' 'control-socket=' 'direct' 'version' 'h/help'
        case 'release'
            __vfio-warden_parse_subcommand -r 1 'sysfs-root=' 'policy=' 'proc-root=' 'journal=' 'state-dir=' 'no-journald' 'step-timeout=' 'owner=' 'json' 'control-socket=' 'direct' 'version' 'h/help'
        case 'agent'
            __vfio-warden_parse_subcommand 0 'sysfs-root=' 'policy=' 'proc-root=' 'journal=' 'state-dir=' 'no-journald' 'step-timeout=' 'source=' 'resync-interval=' 'run-dir=' 'control-socket=' 'no-control-socket' 'read-group=' 'flapping-threshold=' 'flapping-window=' 'count=' 'timeout=' 'version' 'h/help'
        case 'rules'
            __vfio-warden_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'generate'
                __vfio-warden_parse_subcommand 0 'sysfs-root=' 'policy=' 'output=' 'no-scan' 'version' 'h/help'
            end
        case 'metrics'
            __vfio-warden_parse_subcommand 0 'sysfs-root=' 'policy=' 'proc-root=' 'journal=' 'state-dir=' 'no-journald' 'step-timeout=' 'output=' 'no-groups' 'version' 'h/help'
        case 'status'
            __vfio-warden_parse_subcommand 0 'sysfs-root=' 'control-socket=' 'json' 'k8s-labels' 'version' 'h/help'
        case 'help'
            __vfio-warden_parse_subcommand -r 1 'version'
        end
    end
end

function __vfio-warden_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __vfio-warden_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __vfio-warden_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __vfio-warden_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__vfio-warden_tokens -p)
    if test -z "$(__vfio-warden_tokens -t)"
        set -l index (count (__vfio-warden_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'vfio-warden' -f
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'list' -d 'List every IOMMU group, its members and whether it could be assigned.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'show' -d 'Show one PCI device and every member of its IOMMU group.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'example-tree' -d 'Write a built-in example host as a sysfs tree that --sysfs-root can read.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'snapshot' -d 'Copy the PCI part of sysfs into a directory or tarball that --sysfs-root can read back.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'watch' -d 'Print PCI uevents as they arrive, and what each one changed in the device and IOMMU group graph.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'journal' -d 'Show, follow, verify and summarise the journal of every transition.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'check' -d 'Show which IOMMU groups could be assigned to a guest, and what blocks the others.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'policy' -d 'Work with the policy file.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'simulate' -d 'Run the real engine against a simulated kernel: SR-IOV, enforcement and the journal, without hardware.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'plan' -d 'Show what assign or release would write, or why it is refused; nothing is written.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'assign' -d 'Isolate the whole IOMMU group of each ADDRESS for an owner (bind every member to vfio-pci).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'release' -d 'Return assigned groups to the drivers their members had, clearing driver_override.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'agent' -d 'Run the enforcement agent: watch udev PCI events and keep assigned groups on vfio-pci.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'rules' -d 'Generate the udev rules that put isolated devices on vfio-pci as soon as they appear.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'metrics' -d 'Write Prometheus metrics (node-exporter textfile format) from the journal and a scan.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'status' -d 'Ask the running agent for every group\'s state, the assignments it holds and its own state.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden list" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden list" json' -l 'json' -d 'Print JSON instead of a table.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden list" xml' -l 'xml' -d 'Print libvirt\'s node-device <iommuGroup> XML instead of a table.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden list" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden show" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden show" json' -l 'json' -d 'Print JSON instead of a table.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden show" xml' -l 'xml' -d 'Print libvirt\'s node-device <iommuGroup> XML instead of a table.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden show" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" host' -l 'host' -d 'Which host to write.' -rfka 'q35 generated'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" groups' -l 'groups' -d 'With --host generated: number of IOMMU groups.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" per-group' -l 'per-group' -d 'With --host generated: functions per group (a root port and endpoints).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" no-iommu' -l 'no-iommu' -d 'Write the host as booted without an IOMMU (no groups).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" with-proc' -l 'with-proc' -d 'With --host q35: also write the host\'s /proc files (its disk sda mounted at /) in proc/ beside DIR (D/proc for D/sys), where commands given --sysfs-root DIR look for them.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden example-tree" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden snapshot" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden snapshot" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden snapshot" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" source' -l 'source' -d 'Listen to events after systemd-udevd processed them (udev, the default), or as the kernel sent them (kernel). Without a running udevd, \'udev\' receives nothing.' -rfka 'udev kernel'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" json' -l 'json' -d 'Print one JSON object per line: action, address, driver, seqnum, devpath and changes {devices, groups}; a resync prints {"overflow": true, "changes": …}.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" count' -l 'count' -d 'Exit (status 0) after this many device events; resyncs do not count.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" timeout' -l 'timeout' -d 'Exit (status 0) after this many seconds, whatever arrived.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" replay' -l 'replay' -d 'Read recorded events from this file instead of the udev monitor, one JSON event per line (lines printed by `watch --json` replay as they are; {"overflow": true} forces a resync); \'-\' reads standard input. Exits at end of file.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" receive-buffer' -l 'receive-buffer' -d 'Size in bytes of the monitor socket\'s receive buffer (udev_monitor_set_receive_buffer_size).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden watch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden journal" -eq 1' -fa 'show' -d 'Show records as a story, or as JSON lines with --json.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden journal" -eq 1' -fa 'verify' -d 'Check every record\'s hash, every link of the chain, the sequence and the end; name the first bad record.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden journal" -eq 1' -fa 'stats' -d 'Transitions per kind, violations per group, enforcement latency percentiles.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal (where assign, release and agent over that tree write it).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show"' -l 'device' -d 'Only records about this device (repeatable).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show"' -l 'group' -d 'Only records about this group: the number the kernel gave it then, or a member\'s address (repeatable).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show"' -l 'owner' -d 'Only records about this owner (repeatable).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show"' -l 'kind' -d 'Only records of this kind (repeatable): event_seen, group_state_changed, violation_detected, action_planned, step_started, step_finished, assignment_made, assignment_released, policy_loaded, policy_rejected, agent_started, agent_stopped, agent_resynced, record_refused, recovery, plan_finished, plan_refused, flapping.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" since' -l 'since' -d 'Records at or after this time: YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, -1h, +5min, @UNIX.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" until' -l 'until' -d 'Records at or before this time (same forms as --since).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" f follow' -l 'follow' -s 'f' -d 'Keep running and show new records as they are written.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" json' -l 'json' -d 'Print each record\'s JSON line as stored (for jq).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal verify" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal verify" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal (where assign, release and agent over that tree write it).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal verify" against-journald' -l 'against-journald' -d 'Also compare every record with the copy the systemd journal holds (runs journalctl).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal verify" journald-json' -l 'journald-json' -d 'Compare against this file of `journalctl -o json` output instead of running journalctl (implies --against-journald).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal verify" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal verify" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal (where assign, release and agent over that tree write it).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats"' -l 'device' -d 'Only records about this device (repeatable).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats"' -l 'group' -d 'Only records about this group: the number the kernel gave it then, or a member\'s address (repeatable).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats"' -l 'owner' -d 'Only records about this owner (repeatable).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats"' -l 'kind' -d 'Only records of this kind (repeatable): event_seen, group_state_changed, violation_detected, action_planned, step_started, step_finished, assignment_made, assignment_released, policy_loaded, policy_rejected, agent_started, agent_stopped, agent_resynced, record_refused, recovery, plan_finished, plan_refused, flapping.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" since' -l 'since' -d 'Records at or after this time: YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, -1h, +5min, @UNIX.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" until' -l 'until' -d 'Records at or before this time (same forms as --since).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" json' -l 'json' -d 'Print the figures as JSON.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden journal stats" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (mountinfo, swaps, net/*); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" json' -l 'json' -d 'Print JSON instead of text.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" validate-only' -l 'validate-only' -d 'Only validate the policy file; exit 3 when it has errors.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden check" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden policy" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden policy" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden policy" -eq 1' -fa 'check' -d 'Validate a policy file: every error with FILE:LINE:COLUMN, exit 1 when there is any.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden policy check" json' -l 'json' -d 'Print JSON: file, valid, summary, errors (each with line, column, path, kind, message), warnings.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden policy check" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden policy check" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" sysfs-root' -l 'sysfs-root' -d 'A sysfs tree to simulate (copied first); default: the built-in q35 host.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" scenario' -l 'scenario' -d 'Scenario file (TOML, see docs/scenarios.md); default: the built-in scenario, or with --sysfs-root one made from that tree (its groups\' states and the journal).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" policy' -l 'policy' -d 'Policy file; default: the built-in policy for the built-in host, monitor-only otherwise.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" proc-root' -l 'proc-root' -d 'A proc tree for host-use analysis; default: for the built-in host, one where the q35 disk sda is mounted at /; for --sysfs-root D/sys, the proc/ beside it (D/proc).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" journal' -l 'journal' -d 'Where the journal goes; default: journal/ in the working directory.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" work-dir' -l 'work-dir' -d 'Working directory (must not exist); default: a new one under $TMPDIR.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden simulate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden plan" -eq 1' -fa 'assign' -d 'Plan isolating the whole IOMMU group of each ADDRESS for an owner.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden plan" -eq 1' -fa 'release' -d 'Plan returning assigned groups to the drivers their members had.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml; missing means monitor-only).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" state-dir' -l 'state-dir' -d 'Where assignments.json keeps each assignment\'s original drivers; default /var/lib/vfio-warden, or for another --sysfs-root D/sys D/var/lib/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" no-journald' -l 'no-journald' -d 'Do not mirror journal records to the systemd journal (mirrored when its socket exists).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" step-timeout' -l 'step-timeout' -d 'Seconds one sysfs write may take before it counts as hung.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" owner' -l 'owner' -d 'Who the group is for (a VM name, a pod): 1 to 128 bytes of printable characters, no control characters, not blank.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" quarantine' -l 'quarantine' -d 'What the members you did not name get: passthrough (vfio-pci, the default), none (driver_override=none, no driver) or pci-stub.' -rfka 'passthrough none pci-stub'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" json' -l 'json' -d 'Print JSON.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" control-socket' -l 'control-socket' -d 'The agent\'s control socket (default /run/vfio-warden/control.sock; for another --sysfs-root D/sys, D/run/vfio-warden/control.sock).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" direct' -l 'direct' -d 'Act directly on sysfs, not through the agent (refused while the agent runs: it holds the journal).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan assign" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml; missing means monitor-only).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" state-dir' -l 'state-dir' -d 'Where assignments.json keeps each assignment\'s original drivers; default /var/lib/vfio-warden, or for another --sysfs-root D/sys D/var/lib/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" no-journald' -l 'no-journald' -d 'Do not mirror journal records to the systemd journal (mirrored when its socket exists).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" step-timeout' -l 'step-timeout' -d 'Seconds one sysfs write may take before it counts as hung.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" owner' -l 'owner' -d 'Release everything this owner holds.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" json' -l 'json' -d 'Print JSON.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" control-socket' -l 'control-socket' -d 'The agent\'s control socket (default /run/vfio-warden/control.sock; for another --sysfs-root D/sys, D/run/vfio-warden/control.sock).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" direct' -l 'direct' -d 'Act directly on sysfs, not through the agent (refused while the agent runs: it holds the journal).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden plan release" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml; missing means monitor-only).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" state-dir' -l 'state-dir' -d 'Where assignments.json keeps each assignment\'s original drivers; default /var/lib/vfio-warden, or for another --sysfs-root D/sys D/var/lib/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" no-journald' -l 'no-journald' -d 'Do not mirror journal records to the systemd journal (mirrored when its socket exists).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" step-timeout' -l 'step-timeout' -d 'Seconds one sysfs write may take before it counts as hung.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" owner' -l 'owner' -d 'Who the group is for (a VM name, a pod): 1 to 128 bytes of printable characters, no control characters, not blank.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" quarantine' -l 'quarantine' -d 'What the members you did not name get: passthrough (vfio-pci, the default), none (driver_override=none, no driver) or pci-stub.' -rfka 'passthrough none pci-stub'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" json' -l 'json' -d 'Print JSON.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" control-socket' -l 'control-socket' -d 'The agent\'s control socket (default /run/vfio-warden/control.sock; for another --sysfs-root D/sys, D/run/vfio-warden/control.sock).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" direct' -l 'direct' -d 'Act directly on sysfs, not through the agent (refused while the agent runs: it holds the journal).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden assign" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml; missing means monitor-only).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" state-dir' -l 'state-dir' -d 'Where assignments.json keeps each assignment\'s original drivers; default /var/lib/vfio-warden, or for another --sysfs-root D/sys D/var/lib/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" no-journald' -l 'no-journald' -d 'Do not mirror journal records to the systemd journal (mirrored when its socket exists).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" step-timeout' -l 'step-timeout' -d 'Seconds one sysfs write may take before it counts as hung.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" owner' -l 'owner' -d 'Release everything this owner holds.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" json' -l 'json' -d 'Print JSON.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" control-socket' -l 'control-socket' -d 'The agent\'s control socket (default /run/vfio-warden/control.sock; for another --sysfs-root D/sys, D/run/vfio-warden/control.sock).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" direct' -l 'direct' -d 'Act directly on sysfs, not through the agent (refused while the agent runs: it holds the journal).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden release" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml; missing means monitor-only).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" state-dir' -l 'state-dir' -d 'Where assignments.json keeps each assignment\'s original drivers; default /var/lib/vfio-warden, or for another --sysfs-root D/sys D/var/lib/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" no-journald' -l 'no-journald' -d 'Do not mirror journal records to the systemd journal (mirrored when its socket exists).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" step-timeout' -l 'step-timeout' -d 'Seconds one sysfs write may take before it counts as hung.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" source' -l 'source' -d 'udev (after systemd-udevd, the default) or kernel (raw uevents, where no udevd runs).' -rfka 'udev kernel'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" resync-interval' -l 'resync-interval' -d 'Seconds between full rescans (0: only at start and on ENOBUFS).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" run-dir' -l 'run-dir' -d 'Where the run lock (agent.pid) and, by default, the control socket are; default /run/vfio-warden, or for another --sysfs-root D/sys D/run/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" control-socket' -l 'control-socket' -d 'The control socket (default RUN-DIR/control.sock; @NAME: abstract).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" no-control-socket' -l 'no-control-socket' -d 'Serve no control socket.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" read-group' -l 'read-group' -d 'Members of this group may read over the control socket (status, list, plan); only root changes state. Anyone else is refused at connect, and the refusal journaled (once a minute per uid).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" flapping-threshold' -l 'flapping-threshold' -d 'Repairs of one device within --flapping-window that make it flapping: journaled once, each further repair after a back-off (1 s doubling to 30 s). A benchmark that fights the agent on purpose raises it.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" flapping-window' -l 'flapping-window' -d 'Seconds in which --flapping-threshold repairs of one device make it flapping.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" count' -l 'count' -d 'Stop after this many device events (for tests).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" timeout' -l 'timeout' -d 'Stop after this many seconds (for tests).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden agent" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_positional "vfio-warden rules" -eq 1' -fa 'generate' -d 'Write 70-vfio-warden.rules for the policy\'s [[assign]] groups and [[sriov]] PFs.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules generate" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules generate" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules generate" output' -l 'output' -d 'Write the rules to this file (replaced whole, through FILE.tmp) instead of standard output.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules generate" no-scan' -l 'no-scan' -d 'Do not read sysfs: rules for the devices the policy names only, without group siblings (for a staged install; regenerate on the host without it).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules generate" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden rules generate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" policy' -l 'policy' -d 'The policy file (default /etc/vfio-warden/policy.toml; missing means monitor-only).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" proc-root' -l 'proc-root' -d 'The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root D/sys the proc/ beside it (D/proc), never the machine\'s own.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" journal' -l 'journal' -d 'The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys D/var/lib/vfio-warden/journal.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" state-dir' -l 'state-dir' -d 'Where assignments.json keeps each assignment\'s original drivers; default /var/lib/vfio-warden, or for another --sysfs-root D/sys D/var/lib/vfio-warden.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" no-journald' -l 'no-journald' -d 'Do not mirror journal records to the systemd journal (mirrored when its socket exists).'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" step-timeout' -l 'step-timeout' -d 'Seconds one sysfs write may take before it counts as hung.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" output' -l 'output' -d 'Write to this file (through FILE.tmp and a rename) instead of standard output.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" no-groups' -l 'no-groups' -d 'Do not scan sysfs: leave out vfio_warden_groups.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden metrics" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden status" sysfs-root' -l 'sysfs-root' -d 'The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden status" control-socket' -l 'control-socket' -d 'The agent\'s control socket (default /run/vfio-warden/control.sock; for another --sysfs-root D/sys, D/run/vfio-warden/control.sock, where an agent over that tree listens by default).' -rfka ''
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden status" json' -l 'json' -d 'Print JSON.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden status" k8s-labels' -l 'k8s-labels' -d 'Print Kubernetes node labels and annotations with the groups\' states, as a JSON merge patch.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden status" version' -l 'version' -d 'Show the version.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'vfio-warden' -n '__vfio-warden_should_offer_completions_for_flags_or_options "vfio-warden help" version' -l 'version' -d 'Show the version.'
