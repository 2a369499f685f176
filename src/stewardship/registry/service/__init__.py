"""Use cases of the registry, one module per flow.

Every function checks who may do it, writes through the models, appends to the event log,
and flushes; the caller (request or CLI command) commits.
"""
