"""Ganglioside LC-MS/MS identification checks: the UI-free analysis core (spec ANALYSIS.md)."""

__version__ = "0.1.0"
