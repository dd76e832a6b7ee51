"""Retrieval over the user's documents (see the package docstring once it lands)."""
