"""Data: corpus preparers, the mini corpus generator, features, dataset and sampler."""
