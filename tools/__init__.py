"""llamasys."""
