"""Use cases, above protocol, delivery and storage: settings and the config file,
project discovery, the fire service every caller uses, replay, load, check, history."""
