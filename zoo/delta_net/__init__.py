"""Delta Net (Schlag et al. 2021, Sec. 4): backbone, causal LM, preprocessor and presets."""
