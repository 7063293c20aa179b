#!/bin/bash

__vfio-warden_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__vfio-warden_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__vfio-warden_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__vfio-warden_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_vfio-warden() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __vfio-warden_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    list|show|example-tree|snapshot|watch|journal|check|policy|simulate|plan|assign|release|agent|rules|metrics|status|help)
        # Offer subcommand argument completions
        "_vfio-warden_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'list show example-tree snapshot watch journal check policy simulate plan assign release agent rules metrics status help' -- "${cur}"))
        ;;
    esac
}

_vfio-warden_list() {
    repeating_flags=()
    non_repeating_flags=(--json --xml --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    esac
}

_vfio-warden_show() {
    repeating_flags=()
    non_repeating_flags=(--json --xml --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root)
    __vfio-warden_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    esac
}

_vfio-warden_example-tree() {
    repeating_flags=()
    non_repeating_flags=(--no-iommu --with-proc --version -h --help)
    repeating_options=()
    non_repeating_options=(--host --groups --per-group)
    __vfio-warden_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--host')
        __vfio-warden_add_completions -W 'q35'$'\n''generated'
        return
        ;;
    '--groups')
        return
        ;;
    '--per-group')
        return
        ;;
    esac
}

_vfio-warden_snapshot() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root)
    __vfio-warden_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    esac
}

_vfio-warden_watch() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --source --count --timeout --replay --receive-buffer)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--source')
        __vfio-warden_add_completions -W 'udev'$'\n''kernel'
        return
        ;;
    '--count')
        return
        ;;
    '--timeout')
        return
        ;;
    '--replay')
        return
        ;;
    '--receive-buffer')
        return
        ;;
    esac
}

_vfio-warden_journal() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __vfio-warden_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    show|verify|stats)
        # Offer subcommand argument completions
        "_vfio-warden_journal_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'show verify stats' -- "${cur}"))
        ;;
    esac
}

_vfio-warden_journal_show() {
    repeating_flags=()
    non_repeating_flags=(--follow -f --json --version -h --help)
    repeating_options=(--device --group --owner --kind)
    non_repeating_options=(--sysfs-root --journal --since --until)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--device')
        return
        ;;
    '--group')
        return
        ;;
    '--owner')
        return
        ;;
    '--kind')
        return
        ;;
    '--since')
        return
        ;;
    '--until')
        return
        ;;
    esac
}

_vfio-warden_journal_verify() {
    repeating_flags=()
    non_repeating_flags=(--against-journald --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --journal --journald-json)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--journald-json')
        return
        ;;
    esac
}

_vfio-warden_journal_stats() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=(--device --group --owner --kind)
    non_repeating_options=(--sysfs-root --journal --since --until)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--device')
        return
        ;;
    '--group')
        return
        ;;
    '--owner')
        return
        ;;
    '--kind')
        return
        ;;
    '--since')
        return
        ;;
    '--until')
        return
        ;;
    esac
}

_vfio-warden_check() {
    repeating_flags=()
    non_repeating_flags=(--json --validate-only --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --proc-root --policy)
    __vfio-warden_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--policy')
        return
        ;;
    esac
}

_vfio-warden_policy() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __vfio-warden_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    check)
        # Offer subcommand argument completions
        "_vfio-warden_policy_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'check' -- "${cur}"))
        ;;
    esac
}

_vfio-warden_policy_check() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=()
    non_repeating_options=()
    __vfio-warden_offer_flags_options 1
}

_vfio-warden_simulate() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --scenario --policy --proc-root --journal --work-dir)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--scenario')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--work-dir')
        return
        ;;
    esac
}

_vfio-warden_plan() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __vfio-warden_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    assign|release)
        # Offer subcommand argument completions
        "_vfio-warden_plan_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'assign release' -- "${cur}"))
        ;;
    esac
}

_vfio-warden_plan_assign() {
    repeating_flags=()
    non_repeating_flags=(--no-journald --json --direct --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --proc-root --journal --state-dir --step-timeout --owner --quarantine --control-socket)
    __vfio-warden_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--state-dir')
        return
        ;;
    '--step-timeout')
        return
        ;;
    '--owner')
        return
        ;;
    '--quarantine')
        __vfio-warden_add_completions -W 'passthrough'$'\n''none'$'\n''pci-stub'
        return
        ;;
    '--control-socket')
        return
        ;;
    esac
}

_vfio-warden_plan_release() {
    repeating_flags=()
    non_repeating_flags=(--no-journald --json --direct --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --proc-root --journal --state-dir --step-timeout --owner --control-socket)
    __vfio-warden_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--state-dir')
        return
        ;;
    '--step-timeout')
        return
        ;;
    '--owner')
        return
        ;;
    '--control-socket')
        return
        ;;
    esac
}

_vfio-warden_assign() {
    repeating_flags=()
    non_repeating_flags=(--no-journald --json --direct --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --proc-root --journal --state-dir --step-timeout --owner --quarantine --control-socket)
    __vfio-warden_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--state-dir')
        return
        ;;
    '--step-timeout')
        return
        ;;
    '--owner')
        return
        ;;
    '--quarantine')
        __vfio-warden_add_completions -W 'passthrough'$'\n''none'$'\n''pci-stub'
        return
        ;;
    '--control-socket')
        return
        ;;
    esac
}

_vfio-warden_release() {
    repeating_flags=()
    non_repeating_flags=(--no-journald --json --direct --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --proc-root --journal --state-dir --step-timeout --owner --control-socket)
    __vfio-warden_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--state-dir')
        return
        ;;
    '--step-timeout')
        return
        ;;
    '--owner')
        return
        ;;
    '--control-socket')
        return
        ;;
    esac
}

_vfio-warden_agent() {
    repeating_flags=()
    non_repeating_flags=(--no-journald --no-control-socket --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --proc-root --journal --state-dir --step-timeout --source --resync-interval --run-dir --control-socket --read-group --flapping-threshold --flapping-window --count --timeout)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--state-dir')
        return
        ;;
    '--step-timeout')
        return
        ;;
    '--source')
        __vfio-warden_add_completions -W 'udev'$'\n''kernel'
        return
        ;;
    '--resync-interval')
        return
        ;;
    '--run-dir')
        return
        ;;
    '--control-socket')
        return
        ;;
    '--read-group')
        return
        ;;
    '--flapping-threshold')
        return
        ;;
    '--flapping-window')
        return
        ;;
    '--count')
        return
        ;;
    '--timeout')
        return
        ;;
    esac
}

_vfio-warden_rules() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __vfio-warden_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    generate)
        # Offer subcommand argument completions
        "_vfio-warden_rules_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'generate' -- "${cur}"))
        ;;
    esac
}

_vfio-warden_rules_generate() {
    repeating_flags=()
    non_repeating_flags=(--no-scan --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --output)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--output')
        return
        ;;
    esac
}

_vfio-warden_metrics() {
    repeating_flags=()
    non_repeating_flags=(--no-journald --no-groups --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --policy --proc-root --journal --state-dir --step-timeout --output)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--policy')
        return
        ;;
    '--proc-root')
        return
        ;;
    '--journal')
        return
        ;;
    '--state-dir')
        return
        ;;
    '--step-timeout')
        return
        ;;
    '--output')
        return
        ;;
    esac
}

_vfio-warden_status() {
    repeating_flags=()
    non_repeating_flags=(--json --k8s-labels --version -h --help)
    repeating_options=()
    non_repeating_options=(--sysfs-root --control-socket)
    __vfio-warden_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--sysfs-root')
        return
        ;;
    '--control-socket')
        return
        ;;
    esac
}

_vfio-warden_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __vfio-warden_offer_flags_options -1
}

complete -o filenames -F _vfio-warden vfio-warden
