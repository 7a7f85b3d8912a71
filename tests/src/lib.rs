//! Shared code of the black-box tests and the benchmark.
