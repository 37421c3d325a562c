//! The `escrowgrid` binary; all logic lives in [`escrowgrid::cli`].

/// mimalloc instead of the system allocator: a create allocates a few hundred small blocks
/// that live on in the store, and glibc's `malloc` spent ~20% of the server's CPU on them
/// (`docs/BENCHMARKS.md`, "Where a create's CPU goes (perf)").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    escrowgrid::cli::main()
}
