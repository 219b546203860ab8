"""nango-hooks: simulate, replay and receive Nango webhooks."""

__version__ = "0.2.0"

# Set by the command-line entry point (nango_cli/__main__.py), which leaves with
# os._exit once a command is done: resources the OS reclaims at once need not be
# torn down one by one (see Store.close).
FAST_EXIT = False
