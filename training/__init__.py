"""fit-based training, data pipelines and command-line jobs."""
