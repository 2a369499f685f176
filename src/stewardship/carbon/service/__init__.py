"""Use cases of the carbon context."""
