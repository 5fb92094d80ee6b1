//! One file per subcommand, each taking plain values: `cli` parses and validates the command line
//! into them, so nothing here knows about flags. `CommandError` is what they fail with.

pub mod backup;
pub mod copy;
mod error;
pub mod export;
mod listen;
pub mod migrate;
pub mod notify;
pub mod prune;
pub mod query;
pub mod search_index;
pub mod send_test;
pub mod serve;
pub mod verify;

pub use error::{Cause, CommandError};
