"""Use cases of the chain of custody, one module per flow."""
