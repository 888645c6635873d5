# Bash completion for sparsifiner: subcommands, then the flags of the chosen one. Both are read
# from the binary's own --help, so the completion cannot drift from the flags it has.
# Installed as share/bash-completion/completions/sparsifiner; or: source tools/sparsifiner-completion.bash
_sparsifiner() {
    local cur=${COMP_WORDS[COMP_CWORD]} bin=${COMP_WORDS[0]} command="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in -*) ;; *) command=${COMP_WORDS[i]}; break ;; esac
    done
    if [[ -z $command || $command == help ]]; then
        local commands
        commands=$("$bin" --help 2>/dev/null | awk '/^Subcommands:/{on=1; next} on && NF {print $1}')
        COMPREPLY=($(compgen -W "$commands help" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        local flags
        flags=$("$bin" "$command" --help 2>/dev/null | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,')
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))  # images, models, documents
}
complete -o filenames -F _sparsifiner sparsifiner
