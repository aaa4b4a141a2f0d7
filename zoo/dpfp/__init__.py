"""DPFP (Schlag et al. 2021, Sec. 5.4): backbone, causal LM, preprocessor and presets."""
