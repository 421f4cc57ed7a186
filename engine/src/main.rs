//! The `rewardsmith` binary: parses arguments, runs the command, maps errors to
//! the documented exit codes (0 success, 1 failed, 2 usage or input error).

use clap::Parser;
use rewardsmith::cli::Cli;
use rewardsmith::{ExitCode, commands};

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::from(ExitCode::Usage as u8)
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let registry = rewardsmith_envs::registry();
    match commands::run(cli, &registry) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.code as u8)
        }
    }
}
