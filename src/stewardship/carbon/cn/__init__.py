"""The Combined Nomenclature codes of what the chain of custody carries."""
