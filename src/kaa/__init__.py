"""Kaa: a Valkey-compatible in-memory data store written in Python."""

__version__ = "0.1.0"
# The Valkey version whose behaviour Kaa follows; reported by INFO and HELLO.
VALKEY_VERSION = "8.0.2"
