"""Judge/worker protocol: framing and plain-data values."""
