"""maint: the ground floor shared by every package (settings, domain types, the error root,
the identifier and unit rules, the embedder), plus the ``maint`` command's root (``cli``)."""

__version__ = "0.1.0"
