"""nango-hooks: simulate, replay and receive Nango webhooks."""

__version__ = "0.1.0"
