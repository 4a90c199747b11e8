#!/usr/bin/env bash
# Kaldi-style option parsing, sourced by a script after it sets its defaults:
#   --some-name VALUE / --some_name VALUE / --some-name=VALUE set the shell variable some_name,
#   which must already exist (a typo is an error, never a new variable).
#   --help prints the script's ${help_message}.
# Positional arguments are left in "$@".

while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            echo "${help_message:-no help available}"
            exit 0
            ;;
        --*=*)
            _opt="${1%%=*}"
            _val="${1#*=}"
            shift
            ;;
        --*)
            _opt="$1"
            if [ $# -lt 2 ]; then
                echo "$0: option ${_opt} needs a value" >&2
                exit 1
            fi
            _val="$2"
            shift 2
            ;;
        *)
            break
            ;;
    esac
    _name="${_opt#--}"
    _name="${_name//-/_}"
    if ! [[ "${_name}" =~ ^[a-zA-Z_][a-zA-Z0-9_]*$ ]]; then
        echo "$0: invalid option name ${_opt}" >&2
        exit 1
    fi
    if [ -z "${!_name+set}" ]; then
        echo "$0: unknown option ${_opt}" >&2
        exit 1
    fi
    printf -v "${_name}" '%s' "${_val}"
done
unset _opt _val _name
