"""Stewardship: an open platform for a responsible-sourcing scheme in the aluminium value chain."""

__version__ = "0.1.0"
