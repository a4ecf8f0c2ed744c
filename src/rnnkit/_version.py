"""The version of rnnkit, in one place (pyproject reads it too)."""
__version__ = "0.1.0"
