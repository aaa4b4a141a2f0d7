"""Linear Transformer (Katharopoulos et al. 2020): backbone, causal LM, preprocessor and presets."""
