//! The options of `copy`: the two databases, the size of a transaction and the search index. No
//! environment variable sets the databases: `DATABASE_URL` would not say which end it is.

use clap::Args;

/// Options of `copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The database to copy from, `sqlite:path` or `postgres://…`; opened read-only, never
    /// migrated.
    #[arg(long)]
    pub from: String,
    /// The database to copy into; created (SQLite) and migrated if needed.
    #[arg(long)]
    pub to: String,
    /// Events per transaction on the target.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub batch: u32,
    /// Index the copied events' words in the target (as `serve --search-index` does): for a
    /// target that will be served with the search index on.
    #[arg(long, env = "SEARCH_INDEX")]
    pub search_index: bool,
}

#[cfg(test)]
mod tests {
    use crate::cli::{Command, parse};

    #[test]
    fn copy_takes_both_databases_and_a_default_batch() {
        let Command::Copy(args) =
            parse(&["copy", "--from", "sqlite:a.db", "--to", "postgres://h/d"]).command
        else {
            panic!("expected copy");
        };
        assert_eq!(
            (args.from.as_str(), args.to.as_str()),
            ("sqlite:a.db", "postgres://h/d")
        );
        assert_eq!(args.batch, 500);
    }
}
