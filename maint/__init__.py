"""maint: shared settings and domain types for the maintenance assistant."""

__version__ = "0.1.0"
