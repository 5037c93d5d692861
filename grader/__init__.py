"""The course kit's grading harness. Kept import-free: the worker imports this package too."""

__version__ = "0.1.0"
