"""Evaluation of a frozen encoder: retrieval, linear probes, reports."""
