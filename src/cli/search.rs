//! The options of `search-index`: what to do with the text index, and the database.

use clap::{Args, Subcommand};

use super::DatabaseArgs;

/// Options of `search-index`.
#[derive(Debug, Args)]
pub struct SearchIndexArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: SearchIndexAction,
}

/// The subcommands of `search-index`.
#[derive(Debug, Subcommand)]
pub enum SearchIndexAction {
    /// Index the words of the events already stored (resumable; `serve` may run meanwhile).
    Build(DatabaseArgs),
}

#[cfg(test)]
mod tests {
    use super::SearchIndexAction;
    use crate::cli::{Command, parse};

    #[test]
    fn build_takes_the_database() {
        let cli = parse(&["search-index", "build", "--database-url", "sqlite:a.db"]);
        let Command::SearchIndex(args) = cli.command else {
            panic!("expected search-index");
        };
        let SearchIndexAction::Build(database) = args.action;
        assert_eq!(database.database_url, "sqlite:a.db");
    }
}
