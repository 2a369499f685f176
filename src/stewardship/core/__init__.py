"""Shared plumbing: settings, database, errors, auth, pagination, the event log, templating.

Nothing in core imports a bounded context.
"""
