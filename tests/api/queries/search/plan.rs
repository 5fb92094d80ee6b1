//! The text index drives a search at scale: with a million events indexed, the plan of a search
//! page reads its matches from the index (FTS5's virtual table on SQLite, the GIN index on
//! PostgreSQL) and never scans the events; the plans are printed (`cargo test search::plan --
//! --nocapture`) and so are timings, never asserted.

use std::time::Instant;

use dash_events::cursor::Cursor;
use dash_events::query::{AuditFilters, ListParams, TimeRange};
use dash_events::store::{Durability, Store};

use crate::backend::{Backend, TestDb};
use crate::queries::read_path::{EVENTS, MONTH_US, START_US, fill};

// One event in a thousand holds "rare" (a third of them of type-4, none of type-3); every
// event holds "common" and one of 97 other words.
const WORDS_SQLITE: &str = "insert into event_words (rowid, words) \
    select seq, case when cast(substr(id, 5) as integer) % 1000 = 0 then 'rare common' \
        else 'common w' || (cast(substr(id, 5) as integer) % 97) end \
    from events";
const WORDS_POSTGRES: &str = "insert into event_words (id, type, ts_us, words) \
    select id, type, ts_us, array_to_tsvector(case when substr(id, 5)::int % 1000 = 0 \
        then array['rare', 'common'] else array['common', 'w' || (substr(id, 5)::int % 97)] end) \
    from events";
// The GIN index is built once after the rows rather than updated row by row: a faster fill.
const DROP_GIN: &str = "drop index event_words_match";
const CREATE_GIN: &str = "create index event_words_match on event_words using gin (words)";

both_backends!(a_search_of_a_million_events_reads_its_matches_from_the_text_index);

async fn a_search_of_a_million_events_reads_its_matches_from_the_text_index(db: TestDb) {
    let store = Store::connect(db.url(), Durability::Normal)
        .await
        .expect("connect");
    fill(&db).await;
    index_words(&db).await;

    let mut rare = search_params("rare", None);
    assert_plan_reads_the_index(&store, &rare).await;
    let started = Instant::now();
    let rows = store
        .list_events(&rare)
        .await
        .expect("a page of a rare word");
    eprintln!(
        "{:?}: a page of 1 000 matches in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert_eq!(rows.len(), 101, "a full page and the look-ahead row");
    let last = &rows[99];
    rare.cursor = Some(Cursor {
        timestamp_us: last.ts_us,
        id: last.id.clone(),
    });
    assert_plan_reads_the_index(&store, &rare).await;

    let narrowed = search_params("rare", Some("type-4"));
    assert_plan_reads_the_index(&store, &narrowed).await;
    let started = Instant::now();
    let rows = store
        .list_events(&narrowed)
        .await
        .expect("a page of one type");
    eprintln!(
        "{:?}: a page of one type's rare matches in {:?}",
        db.backend(),
        started.elapsed()
    );
    assert!(!rows.is_empty() && rows.len() <= 101);

    let both = search_params("rare common", None);
    assert_plan_reads_the_index(&store, &both).await;
    let started = Instant::now();
    store
        .list_events(&search_params("w5", None))
        .await
        .expect("a page of a frequent word");
    eprintln!(
        "{:?}: a page of a word in 1 % of 10^6 events in {:?}",
        db.backend(),
        started.elapsed()
    );
    store.close().await;
}

fn search_params(words: &str, event_type: Option<&str>) -> ListParams {
    ListParams {
        types: event_type.map(str::to_owned).into_iter().collect(),
        range: TimeRange {
            since_us: START_US,
            until_us: START_US + MONTH_US,
        },
        filters: AuditFilters {
            search: Some(words.to_owned()),
            ..AuditFilters::default()
        },
        limit: 100,
        cursor: None,
    }
}

/// Writes the words of the filled events straight into the index.
async fn index_words(db: &TestDb) {
    let started = Instant::now();
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = db.sqlite().await;
            sqlx::query(WORDS_SQLITE)
                .execute(&mut conn)
                .await
                .expect("words");
        }
        Backend::Postgres => {
            let mut conn = db.postgres().await;
            for sql in [DROP_GIN, WORDS_POSTGRES, CREATE_GIN, "analyze event_words"] {
                sqlx::query(sql).execute(&mut conn).await.expect(sql);
            }
        }
    }
    eprintln!(
        "{:?}: indexed {EVENTS} events in {:?}",
        db.backend(),
        started.elapsed()
    );
}

async fn assert_plan_reads_the_index(store: &Store, params: &ListParams) {
    let plan = store
        .list_events_plan(params)
        .await
        .expect("plan")
        .join("\n");
    eprintln!(
        "plan of {:?} {:?}:\n{plan}\n",
        params.filters.search, params.types
    );
    if store.is_sqlite() {
        assert!(plan.contains("SCAN event_words VIRTUAL TABLE"), "{plan}");
        assert!(
            plan.contains("SEARCH events USING INTEGER PRIMARY KEY"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN events"), "{plan}");
    } else {
        assert!(
            plan.contains("Bitmap Index Scan on event_words_match"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}
