"""Use cases of the assurance context, one module per flow."""
