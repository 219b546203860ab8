"""Small utilities every layer may use: escaping, timestamps, files, paths, processes,
the event loop and the injected environment. They import nothing of the package but
`errors`."""
