"""Performer (Choromanski et al. 2021): backbone, causal LM, preprocessor and presets."""
