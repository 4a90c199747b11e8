"""Command-line entry points: python -m audiotext.bin.<command>."""
