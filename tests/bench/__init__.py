"""Benchmarks (`make bench`): each bench_*.py module measures figures as same-run ratios."""
