//! `GET /notifications?state=dead` among many sent notifications reads the few dead rows through
//! the `(state, id)` index instead of walking every id (the plans are printed, so
//! `cargo test notify_listing -- --nocapture` shows them), and pages them newest first.

use dash_events::store::{Durability, NotificationFilter, NotificationState, Store};

use crate::backend::{Backend, TestDb};

const NOTIFICATIONS: i64 = 20_000;
/// Every `DEAD_EVERY`th notification is dead, the others sent.
const DEAD_EVERY: i64 = 2_500;

const FILL_SQLITE: &str = "with recursive n(i) as (select 0 union all select i + 1 from n where i < $1 - 1) \
    insert into notifications (event_id, rule, state, attempts, next_attempt_us, created_us) \
    select 'evt-' || i, 'ops', case when i % $2 = 0 then 'dead' else 'sent' end, 1, 0, 0 from n";
const FILL_POSTGRES: &str = "insert into notifications \
    (event_id, rule, state, attempts, next_attempt_us, created_us) \
    select 'evt-' || i, 'ops', case when i % $2 = 0 then 'dead' else 'sent' end, 1, 0, 0 \
    from generate_series(0, $1 - 1) as i";

both_backends!(dead_notifications_are_listed_through_the_state_index);

async fn dead_notifications_are_listed_through_the_state_index(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    fill(&db).await;
    let mut filter = NotificationFilter {
        state: Some(NotificationState::Dead),
        limit: 3,
        before_id: None,
    };

    let plan = store
        .list_notifications_plan(&filter)
        .await
        .expect("explain")
        .join("\n");
    eprintln!(
        "{:?} plan of a page of dead notifications:\n{plan}",
        db.backend()
    );
    assert!(
        plan.contains("notifications_by_state"),
        "the plan does not use notifications_by_state:\n{plan}"
    );

    let mut seen = Vec::new();
    loop {
        let page = store.list_notifications(&filter).await.expect("page");
        let full = page.len() > filter.limit as usize;
        seen.extend(
            page.iter()
                .take(filter.limit as usize)
                .map(|n| n.event_id.clone()),
        );
        assert!(
            page.iter().all(|n| n.state == NotificationState::Dead),
            "{page:?}"
        );
        if !full {
            break;
        }
        filter.before_id = Some(page[filter.limit as usize - 1].id);
    }
    let expected: Vec<String> = (0..NOTIFICATIONS)
        .rev()
        .filter(|i| i % DEAD_EVERY == 0)
        .map(|i| format!("evt-{i}"))
        .collect();
    assert_eq!(seen, expected, "every dead notification once, newest first");
}

async fn fill(db: &TestDb) {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = db.sqlite().await;
            sqlx::query(FILL_SQLITE)
                .bind(NOTIFICATIONS)
                .bind(DEAD_EVERY)
                .execute(&mut conn)
                .await
                .expect("fill");
            sqlx::query("analyze")
                .execute(&mut conn)
                .await
                .expect("analyze");
        }
        Backend::Postgres => {
            let mut conn = db.postgres().await;
            sqlx::query(FILL_POSTGRES)
                .bind(NOTIFICATIONS)
                .bind(DEAD_EVERY)
                .execute(&mut conn)
                .await
                .expect("fill");
            sqlx::query("analyze notifications")
                .execute(&mut conn)
                .await
                .expect("analyze");
        }
    }
}
