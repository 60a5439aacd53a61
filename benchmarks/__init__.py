"""The course's benchmarks (`make bench`); run from the project folder: ``python -m benchmarks.run_all``."""
