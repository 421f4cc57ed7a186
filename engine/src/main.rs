//! The `rewardsmith` binary: parses arguments, runs the command, maps errors to
//! the documented exit codes (0 success, 1 failed, 2 usage or input error).

use clap::Parser;
use rewardsmith::cli::Cli;
use rewardsmith::progress::terminal_safe;
use rewardsmith::{ExitCode, commands};

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version.
                let _ = e.print();
                return std::process::ExitCode::SUCCESS;
            }
            let _ = e.print();
            // The command line did not parse, so `--json` is looked for in the
            // raw arguments (before a `--`).
            let json = std::env::args()
                .take_while(|a| a != "--")
                .any(|a| a == "--json");
            if json {
                print_error_json(ExitCode::Usage, "usage", &e.render().to_string());
            }
            return std::process::ExitCode::from(ExitCode::Usage as u8);
        }
    };
    let json = cli.command.json();
    let registry = rewardsmith_envs::registry();
    match commands::run(cli, &registry) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message may quote a reward program or an LLM: escaped for
            // the terminal here, exact in the JSON below.
            eprintln!("error: {}", terminal_safe(&e.to_string()));
            if json && !commands::json_printed() {
                let kind = match e.code {
                    ExitCode::Usage => "usage",
                    ExitCode::Failure | ExitCode::Success => "failure",
                };
                print_error_json(e.code, kind, &e.to_string());
            }
            std::process::ExitCode::from(e.code as u8)
        }
    }
}

/// With `--json`, an error is one JSON object on stdout too:
/// `{"ok": false, "error": {"kind", "message", "exit_code"}}`.
fn print_error_json(code: ExitCode, kind: &str, message: &str) {
    let value = serde_json::json!({
        "ok": false,
        "error": {
            "kind": kind,
            "message": message.trim_end(),
            "exit_code": code as u8,
        },
    });
    println!("{value}");
}
