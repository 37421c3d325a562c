//! Throwaway PostgreSQL servers for tests and benchmarks (to be written).
