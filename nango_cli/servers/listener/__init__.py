"""`nango-hooks listen`: receive, verify, check, store and answer webhooks."""
