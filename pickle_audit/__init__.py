"""pickle-audit: find what cannot cross a process boundary, before and while it runs."""

__version__ = "0.1.0"
