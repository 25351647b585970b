"""Placeholder; filled in by the indicators work."""
