//! Which of this binary's migrations a database holds, read from sqlx's `_sqlx_migrations`
//! without running any: a copy must neither migrate its source nor write into a target whose
//! schema comes from a newer release (sqlx's own `run` would only notice the unknown version
//! after taking the migration lock, and apply the missing ones first).

use std::collections::HashMap;

use super::{Store, StoreError, on_pool};

// Each backend has its own catalogue; a database no migration ever ran on has no table at all.
const HAS_TABLE_SQLITE: &str =
    "select count(*) from sqlite_master where type = 'table' and name = '_sqlx_migrations'";
const HAS_TABLE_PG: &str =
    "select count(*) from pg_class where oid = to_regclass('_sqlx_migrations')";
const SELECT_APPLIED: &str =
    "select version, checksum from _sqlx_migrations where success order by version";

/// A migration's version and checksum.
type Migration = (i64, Vec<u8>);

/// How a database's applied migrations compare with this binary's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Every migration of this binary, and no other.
    Current,
    /// None: a new database, or not one of this service.
    Empty,
    /// Only some; this is the first missing one.
    Older(i64),
    /// This version, unknown to this binary, is applied: a newer release migrated it.
    Newer(i64),
    /// This version is applied with other contents than this binary's.
    Altered(i64),
}

/// The successful migrations `store` holds, in version order.
pub(super) async fn applied(store: &Store) -> Result<Vec<Migration>, StoreError> {
    let has_table = match store {
        Store::Sqlite { .. } => HAS_TABLE_SQLITE,
        Store::Postgres { .. } => HAS_TABLE_PG,
    };
    on_pool!(store, read, pool => {
        let tables: i64 = sqlx::query_scalar(has_table).fetch_one(pool).await?;
        if tables == 0 {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(SELECT_APPLIED).fetch_all(pool).await?)
    })
}

/// This binary's migrations for the backend of `store`.
pub(super) fn known(store: &Store) -> Vec<Migration> {
    let migrator = match store {
        Store::Sqlite { .. } => sqlx::migrate!("migrations/sqlite"),
        Store::Postgres { .. } => sqlx::migrate!("migrations/postgres"),
    };
    migrator
        .iter()
        .map(|m| (m.version, m.checksum.to_vec()))
        .collect()
}

/// Compares the `applied` migrations with the `known` ones; a newer or altered one wins over a
/// missing one, since migrating cannot mend it.
pub(super) fn compare(applied: &[Migration], known: &[Migration]) -> Schema {
    let sums: HashMap<i64, &[u8]> = known.iter().map(|(v, s)| (*v, s.as_slice())).collect();
    let unknown = applied
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| !sums.contains_key(v));
    if let Some(version) = unknown.max() {
        return Schema::Newer(version);
    }
    if let Some((version, _)) = applied.iter().find(|(v, s)| sums[v] != s.as_slice()) {
        return Schema::Altered(*version);
    }
    if applied.is_empty() {
        return Schema::Empty;
    }
    match known
        .iter()
        .find(|(v, _)| !applied.iter().any(|(a, _)| a == v))
    {
        Some((version, _)) => Schema::Older(*version),
        None => Schema::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrations(versions: &[i64]) -> Vec<Migration> {
        versions.iter().map(|v| (*v, vec![*v as u8])).collect()
    }

    #[test]
    fn applied_migrations_are_placed_against_the_binarys() {
        let known = migrations(&[1, 2, 3]);
        let cases = [
            (migrations(&[1, 2, 3]), Schema::Current),
            (migrations(&[]), Schema::Empty),
            (migrations(&[1, 2]), Schema::Older(3)),
            (migrations(&[1, 3]), Schema::Older(2)),
            (migrations(&[1, 2, 3, 4, 5]), Schema::Newer(5)),
            (migrations(&[1, 2, 4]), Schema::Newer(4)),
            (vec![(1, vec![1]), (2, vec![7])], Schema::Altered(2)),
        ];
        for (applied, expected) in cases {
            assert_eq!(compare(&applied, &known), expected, "{applied:?}");
        }
    }
}
