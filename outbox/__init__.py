"""Messaging machinery that knows no business: events, outbox, relay, consumers, topology."""
