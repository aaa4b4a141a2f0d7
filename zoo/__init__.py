"""Ready-made Linear Transformer, Performer, DPFP and Delta Net models and their presets."""
