"""Organisations, memberships, entities, facilities, users and audit firms."""
