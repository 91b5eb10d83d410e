"""evplan tests."""
