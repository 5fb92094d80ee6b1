//! How much work the database does for a page of `GET /events`, counted rather than timed, so
//! that a test can hold a page's cost to what it returns: a page deep into a long window must
//! cost what the first page costs, not more with every page before it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sqlx::QueryBuilder;
use sqlx::types::Json;

use super::events::push_page_query;
use super::filters::Driver;
use super::{Store, StoreError};
use crate::query::ListParams;

/// SQLite reports its progress every this many virtual machine instructions.
const SQLITE_STEPS_PER_REPORT: i32 = 10;

impl Store {
    /// The work of reading `list_events(params)` (without `q`): on SQLite the virtual machine
    /// instructions it runs, in tens; on PostgreSQL the buffers it touches (`explain
    /// (analyze, buffers)`). Only comparable between pages on the same backend.
    pub async fn list_events_work(&self, params: &ListParams) -> Result<u64, StoreError> {
        let types = self.types_to_read(params).await?;
        let driver = Driver::of(&params.filters, &types);
        if driver.keys.is_empty() {
            return Ok(0);
        }
        match self {
            Self::Sqlite { reader, .. } => {
                let mut conn = reader.acquire().await?;
                let reports = Arc::new(AtomicU64::new(0));
                let counter = Arc::clone(&reports);
                conn.lock_handle().await?.set_progress_handler(
                    SQLITE_STEPS_PER_REPORT,
                    move || {
                        counter.fetch_add(1, Ordering::Relaxed);
                        true
                    },
                );
                let mut query = QueryBuilder::new("");
                push_page_query(&mut query, &driver, params);
                let read = query.build().fetch_all(&mut *conn).await;
                // The connection goes back to the pool: it must not keep counting.
                conn.lock_handle().await?.remove_progress_handler();
                read?;
                Ok(reports.load(Ordering::Relaxed))
            }
            Self::Postgres { primary, replica } => {
                let mut query = QueryBuilder::new("explain (analyze, buffers, format json) ");
                push_page_query(&mut query, &driver, params);
                let pool = replica.as_ref().unwrap_or(primary);
                let Json(plan): Json<Value> = query.build_query_scalar().fetch_one(pool).await?;
                let root = &plan[0]["Plan"];
                let blocks = |name: &str| root[name].as_u64().unwrap_or(0);
                Ok(blocks("Shared Hit Blocks") + blocks("Shared Read Blocks"))
            }
        }
    }
}
