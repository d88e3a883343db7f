"""The gateway: the one entry point."""
