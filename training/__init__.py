"""Data preparation and training utilities for wordrnn."""
