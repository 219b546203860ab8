"""The SQLite store: opening it, its migrations, the webhooks and attempts, and the
state Nango's API would hold (records, connections, action results, the API's log)."""
