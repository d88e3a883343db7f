"""The patients service."""
