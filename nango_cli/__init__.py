"""nango-hooks: simulate, replay and receive Nango webhooks."""

__version__ = "0.2.0"
