"""pickle-audit: find what cannot cross a process boundary, before and while it runs."""

__version__ = "0.2.0"

__all__ = ["__version__", "assert_picklable", "audit"]


def __getattr__(name: str) -> object:
    # The tracer is imported on first use, so `import pickle_audit` stays light.
    if name in ("audit", "assert_picklable"):
        from pickle_audit.trace import audit as audit_module

        return getattr(audit_module, name)
    raise AttributeError(f"module 'pickle_audit' has no attribute {name!r}")
