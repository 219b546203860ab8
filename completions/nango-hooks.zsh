#compdef nango-hooks

_nango_hooks_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _NANGO_HOOKS_COMPLETE=complete_zsh nango-hooks)
}

compdef _nango_hooks_completion nango-hooks