"""The Danish web UI."""
