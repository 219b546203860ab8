"""Nango's webhook protocol, pure (no I/O): its vocabulary, JS-exact serialization,
signatures and key rings, body builders and `--set` edits, the schema check, fake
record data, and `sign_webhook`, the one composition of build + serialize + sign."""
