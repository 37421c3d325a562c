//! The `escrowgrid` binary; all logic lives in [`escrowgrid::cli`].

fn main() -> std::process::ExitCode {
    escrowgrid::cli::main()
}
