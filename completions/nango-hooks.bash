_nango_hooks_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _NANGO_HOOKS_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _nango_hooks_completion nango-hooks