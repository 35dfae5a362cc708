"""Notifications: the outbox of messages to customers and staff, and their templates."""
