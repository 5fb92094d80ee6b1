//! The network between the receiver and PostgreSQL fails under load: connections cut in the
//! middle of a commit, a stall longer than the write timeout, a storm of resets. The service
//! reaches PostgreSQL through a proxy the test steers (`support::proxy`), while several senders
//! deliver fresh events and record every answer (`ledger`).
//!
//! Whatever the network does, each delivery is decided once: a 200 means stored once, byte for
//! byte; a 503 (with `Retry-After`) means absent, or stored once by a commit whose answer was
//! lost, and Dash's retry of it is answered 200 (a duplicate exactly when it was stored) and
//! leaves it stored once. Nothing else is answered, nothing is stored that was not sent, the
//! totals count each event once, and the service recovers without a restart.

mod ledger;

use reqwest::Url;

use crate::backend::TestDb;
use crate::helpers::eventually;
use crate::support::app::App;
use crate::support::proxy::{Mode, Proxy};
use ledger::{Ledger, SENDERS, STATE_TIMEOUT, WRITE_TIMEOUT};

postgres_only!(
    connections_cut_mid_commit_decide_each_delivery_exactly_once,
    stall_longer_than_the_write_timeout_answers_503_then_recovers_by_itself,
    reset_storm_loses_no_acknowledged_delivery_and_stores_none_twice,
);

async fn connections_cut_mid_commit_decide_each_delivery_exactly_once(db: TestDb) {
    let (proxy, app) = start_behind_proxy(&db).await;
    let ledger = Ledger::default();
    let faults = async {
        ledger.await_acks(20).await;
        proxy.set(Mode::CutAtCommit);
        let cut = eventually(STATE_TIMEOUT, || async {
            let (after, before) = proxy.commits_cut();
            after >= 10 && before >= 10
        });
        assert!(
            cut.await,
            "not 10 commits cut after reaching PostgreSQL and 10 before"
        );
        proxy.set(Mode::Pass);
        let refused_at_commits = ledger.refused_ids();
        // Then whole connections, whatever they carry: a begin, an insert, a commit, nothing.
        for _ in 0..10 {
            ledger.await_acks(ledger.acks() + 10).await;
            proxy.cut();
        }
        ledger.await_acks(ledger.acks() + 20).await;
        ledger.stop();
        refused_at_commits
    };
    let ((), refused_at_commits) = futures::join!(ledger.run(&app), faults);
    let landed = ledger.assert_each_decided_once(&app, &db).await;
    assert!(
        refused_at_commits.iter().any(|id| landed.contains(id)),
        "no COMMIT cut after reaching PostgreSQL landed: the cut missed the commits"
    );
}

async fn stall_longer_than_the_write_timeout_answers_503_then_recovers_by_itself(db: TestDb) {
    let (proxy, app) = start_behind_proxy(&db).await;
    let ledger = Ledger::default();
    let faults = async {
        ledger.await_acks(20).await;
        proxy.set(Mode::StallFromCommit);
        // The deliveries of the held commit wait out the write timeout; 6× that covers them.
        let timed_out = eventually(6 * WRITE_TIMEOUT, || async {
            ledger.slowest_refusal() >= WRITE_TIMEOUT && ledger.refusals() >= SENDERS
        });
        assert!(timed_out.await, "no delivery waited out the write timeout");
        assert_readiness(&app, 503).await;
        proxy.set(Mode::Pass);
        ledger.await_acks(ledger.acks() + 20).await;
        assert_readiness(&app, 200).await;
        ledger.stop();
    };
    futures::join!(ledger.run(&app), faults);
    let landed = ledger.assert_each_decided_once(&app, &db).await;
    assert!(
        !landed.is_empty(),
        "the held COMMIT did not land after the stall"
    );
}

async fn reset_storm_loses_no_acknowledged_delivery_and_stores_none_twice(db: TestDb) {
    let (proxy, app) = start_behind_proxy(&db).await;
    let ledger = Ledger::default();
    let faults = async {
        ledger.await_acks(20).await;
        // A batch of a few events is a few KiB: some connections die in their handshake, most
        // in a statement, and some commits get through.
        proxy.set(Mode::ResetStorm { max_bytes: 8_192 });
        let stormed = eventually(STATE_TIMEOUT, || async { proxy.resets() >= 50 });
        assert!(stormed.await, "not 50 resets");
        proxy.set(Mode::Pass);
        ledger.await_acks(ledger.acks() + 20).await;
        assert_readiness(&app, 200).await;
        ledger.stop();
    };
    futures::join!(ledger.run(&app), faults);
    ledger.assert_each_decided_once(&app, &db).await;
}

/// Starts a proxy to the test database's server and the service on the database through it.
async fn start_behind_proxy(db: &TestDb) -> (Proxy, App) {
    let mut url = Url::parse(db.url()).expect("a PostgreSQL URL");
    let host = url.host_str().expect("a host").to_owned();
    let proxy = Proxy::start(&format!("{host}:{}", url.port().unwrap_or(5432))).await;
    url.set_port(Some(proxy.addr().port())).expect("a port");
    // The proxy reads the protocol to find a COMMIT: keep it in clear text.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let app = App::start_with(db, |config| config.database_url = url.to_string()).await;
    (proxy, app)
}

/// Awaits `/readyz` answering `status`; it answers only 200 or 503.
async fn assert_readiness(app: &App, status: u16) {
    let reached = eventually(STATE_TIMEOUT, || async {
        let answered = app.get("/readyz").await.status().as_u16();
        assert!(matches!(answered, 200 | 503), "/readyz answered {answered}");
        answered == status
    });
    assert!(reached.await, "/readyz did not turn {status}");
}
