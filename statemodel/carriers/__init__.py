"""Carrier raw-code mapping tables and the normalised carrier event (pure, no I/O but data)."""
