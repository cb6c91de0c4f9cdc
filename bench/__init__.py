"""Benchmarks: speed as ratios against the baseline each competes with, measured in one run."""
