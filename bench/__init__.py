"""Benchmark scripts (run by hand); a package so that their endpoint replies can be imported."""
