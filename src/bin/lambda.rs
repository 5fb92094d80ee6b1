//! `dash-events-lambda`: the receiver as an AWS Lambda function (custom runtime, `bootstrap`).
//! Parse the options (the environment of `serve`), start logging, serve invocations.

use std::process::ExitCode;

use clap::Parser;
use dash_events::{cli::LambdaCli, lambda, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = LambdaCli::parse();
    telemetry::init();
    match lambda::run(cli.serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
