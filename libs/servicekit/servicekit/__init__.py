"""servicekit: what every danbio service shares, written once."""
