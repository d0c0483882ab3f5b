//! The `tenantctl` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match tenantctl::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return tenantctl::commands::usage_error(&e),
    };
    match tenantctl::commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(report) => {
            // A reader that went away (`tenantctl … | head`) is not an error to report.
            let closed = report
                .downcast_ref::<tenantctl::commands::StdoutError>()
                .and_then(|e| e.broken_pipe());
            if let Some(exit) = closed {
                return exit.into();
            }
            tenantctl::commands::print_error(&report);
            ExitCode::from(1)
        }
    }
}

/// mimalloc rather than glibc's allocator: loading a large configuration is mostly small
/// allocations, which it serves twice as fast with less memory (see README, Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
