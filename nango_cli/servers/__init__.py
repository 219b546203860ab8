"""The local servers (listener, API stand-in, inspector) on one skeleton."""
