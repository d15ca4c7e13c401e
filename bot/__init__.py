"""Kai: shared library code for the emotion-aware Rasa assistant."""
