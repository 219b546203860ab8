"""`nango-hooks ui`: the web inspector (its server, what it shows, its static page)."""
