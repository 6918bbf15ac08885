"""Workstation side: data, the paper's network, training, evaluation and reports."""
