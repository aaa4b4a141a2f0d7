"""The general fast weight language model that every family configures."""
