//! The `hypermove` binary: everything happens in the library; this only hands over.

fn main() -> std::process::ExitCode {
    hypermove::cli::main()
}
