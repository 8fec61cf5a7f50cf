"""core/analyzers."""
