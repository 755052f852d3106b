"""Baselines to compare wordrnn models against."""
