//! `serve` refusing to start: a configuration error (no secret, unparseable database URL, no
//! `API_TOKEN` on a non-loopback address, an invalid `--listen`) exits 2, a valid configuration
//! that cannot run (unreachable database, address in use) exits 1 — each with one `error: ` line
//! naming what to fix, and never a panic.

use crate::backend::{Backend, TestDb};
use crate::process::Exit;
use crate::support::launch::Launch;
use crate::support::server::ServeProcess;

both_backends!(
    missing_webhook_secret_is_refused_with_exit_code_2,
    unparseable_database_url_is_refused_with_exit_code_2,
    non_loopback_address_without_api_token_is_refused_with_exit_code_2,
    invalid_listen_address_is_refused_with_exit_code_2,
    unreachable_database_fails_with_exit_code_1,
    address_in_use_fails_with_exit_code_1,
);

/// Asserts the exit code, exactly one `error: ` line that names `what` (any case), and no panic.
pub(crate) fn assert_refused(case: &str, exit: &Exit, code: i32, what: &str) {
    let output = format!("stdout:\n{}\nstderr:\n{}", exit.stdout, exit.stderr);
    assert_eq!(
        exit.status.code(),
        Some(code),
        "{case}: exit status {:?}\n{output}",
        exit.status
    );
    for panic_text in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(
            !output.contains(panic_text),
            "{case}: panic text `{panic_text}`\n{output}"
        );
    }
    let errors: Vec<&str> = exit
        .stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{case}: expected one `error: ` line\n{output}"
    );
    assert!(
        errors[0].to_lowercase().contains(&what.to_lowercase()),
        "{case}: {:?} does not name {what}",
        errors[0]
    );
}

async fn missing_webhook_secret_is_refused_with_exit_code_2(db: TestDb) {
    let cases = [
        ("no secret at all", Launch::new(&db).without_secret()),
        (
            "an empty secret",
            Launch::new(&db).without_secret().arg("--webhook-secret="),
        ),
        (
            "an empty WEBHOOK_SECRET",
            Launch::new(&db).without_secret().env("WEBHOOK_SECRET", ""),
        ),
    ];

    for (case, launch) in cases {
        let exit = launch.start_expecting_exit().await;
        assert_refused(case, &exit, 2, "WEBHOOK_SECRET");
    }
}

async fn unparseable_database_url_is_refused_with_exit_code_2(db: TestDb) {
    for url in [
        "mysql://root@127.0.0.1/test",
        "not a url",
        "http://127.0.0.1/events",
        "postgres://user@[::1/db",
    ] {
        let exit = Launch::new(&db)
            .database_url(url)
            .start_expecting_exit()
            .await;
        assert_refused(&format!("DATABASE_URL {url:?}"), &exit, 2, "DATABASE_URL");
    }
}

async fn non_loopback_address_without_api_token_is_refused_with_exit_code_2(db: TestDb) {
    for address in ["0.0.0.0:0", "[::]:0"] {
        let exit = Launch::new(&db)
            .listen(address)
            .start_expecting_exit()
            .await;
        assert_refused(&format!("--listen {address}"), &exit, 2, "API_TOKEN");
    }
}

async fn invalid_listen_address_is_refused_with_exit_code_2(db: TestDb) {
    for address in ["not-an-address", "127.0.0.1:99999", "127.0.0.1", ""] {
        let exit = Launch::new(&db)
            .listen(address)
            .start_expecting_exit()
            .await;
        assert_refused(&format!("--listen {address:?}"), &exit, 2, "listen");
    }
}

async fn unreachable_database_fails_with_exit_code_1(db: TestDb) {
    let url = match db.backend() {
        Backend::Sqlite => format!("sqlite://{}/no/such/dir/events.db", db.dir().display()),
        Backend::Postgres => "postgres://postgres@127.0.0.1:1/unreachable".to_owned(),
    };

    let exit = Launch::new(&db)
        .database_url(&url)
        .start_expecting_exit()
        .await;

    assert_refused(&format!("DATABASE_URL {url}"), &exit, 1, "database");
}

async fn address_in_use_fails_with_exit_code_1(db: TestDb) {
    let first = ServeProcess::start(&db).await;

    let exit = Launch::new(&db)
        .listen(&first.addr.to_string())
        .start_expecting_exit()
        .await;

    assert_refused(
        &format!("a second server on {}", first.addr),
        &exit,
        1,
        "address",
    );
    assert_eq!(
        first.get("/healthz").await.status(),
        200,
        "the first server was disturbed"
    );
}
