"""Chain of custody: materials, CoC documents, material accounts, mass balance, provenance."""
