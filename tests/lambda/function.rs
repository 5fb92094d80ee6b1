//! `dash-events-lambda` started as Lambda starts a custom runtime: no arguments, its
//! configuration in environment variables, `AWS_LAMBDA_RUNTIME_API` naming a fake Runtime API.
//! Recorded API Gateway events are loaded from `tests/lambda/events/`, and the function's proxy
//! responses are read back as a status and a body.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::backend::TestDb;
use crate::process::{Exit, Process, binary};
use crate::runtime::{FakeRuntime, Outcome};

/// The secret the recorded events are signed with (see `events/generate.py`).
pub const SECRET: &str = "lambda-test-secret";
/// The API token the recorded query events carry.
pub const TOKEN: &str = "lambda-test-token";

/// How long a cold start (connecting, migrations included) may take on a busy test machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running function and the fake Runtime API it polls.
pub struct Function {
    pub runtime: FakeRuntime,
    process: Process,
}

impl Function {
    /// Cold-starts the function on `db` and waits until it polls for invocations.
    pub async fn start(db: &TestDb) -> Function {
        let runtime = FakeRuntime::start().await;
        let mut process = Process::spawn(command(&runtime, Some(db.url()), &[]));
        process
            .wait_for_stderr_line("waiting for invocations", START_TIMEOUT)
            .await
            .unwrap_or_else(|output| panic!("dash-events-lambda did not start: {output}"));
        Function { runtime, process }
    }

    /// Invokes the function with `event` and answers the proxy response's status and JSON body.
    pub async fn invoke(&self, event: Value) -> (u16, Value) {
        match self.runtime.invoke(event).await {
            Outcome::Response(response) => status_and_json(&response),
            Outcome::Error(error) => panic!(
                "the invocation failed: {error}\nstderr:\n{}",
                self.process.stderr()
            ),
        }
    }
}

/// Runs the function expecting it to refuse to start, with the given `DATABASE_URL` and extra
/// environment.
pub async fn start_expecting_exit(database_url: Option<&str>, envs: &[(&str, &str)]) -> Exit {
    let runtime = FakeRuntime::start().await;
    let mut process = Process::spawn(command(&runtime, database_url, envs));
    process
        .expect_exit(
            START_TIMEOUT,
            "dash-events-lambda was expected to refuse to start",
        )
        .await
}

/// The environment Lambda gives a function, plus the function's own configuration.
fn command(runtime: &FakeRuntime, database_url: Option<&str>, envs: &[(&str, &str)]) -> Command {
    let mut command = binary(env!("CARGO_BIN_EXE_dash-events-lambda"), [] as [&str; 0]);
    command
        .env("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "dash-events")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/dash-events")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/28/[$LATEST]0123456789abcdef",
        )
        .env("WEBHOOK_SECRET", SECRET)
        .env("API_TOKEN", TOKEN);
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command.envs(envs.iter().copied());
    command
}

/// A recorded event from `tests/lambda/events/`.
pub fn recorded(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lambda/events")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
}

/// The exact bytes a recorded event's body carries (decoded when it is base64).
pub fn body_bytes(event: &Value) -> Vec<u8> {
    let body = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"] == Value::Bool(true) {
        STANDARD.decode(body).expect("a base64 body")
    } else {
        body.as_bytes().to_vec()
    }
}

/// A header of a recorded event, its name compared without case, as API Gateway sent it.
pub fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    let headers = event["headers"].as_object()?;
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

/// The status and JSON body of an API Gateway proxy response (payload 1.0 or 2.0).
pub fn status_and_json(response: &Value) -> (u16, Value) {
    let status = response["statusCode"]
        .as_u64()
        .and_then(|status| u16::try_from(status).ok())
        .unwrap_or_else(|| panic!("no statusCode in {response}"));
    let body = body_bytes(response);
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}
