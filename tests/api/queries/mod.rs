//! The query API: `/events`, lookups, pagination, `/stats` and the timeline (and their read paths),
//! export, the bearer token, the web view, the OpenAPI document and every answer provoked against
//! it.

pub mod audit_filter_input;
pub mod audit_filters;
pub mod audit_migration;
pub mod audit_read_path;
pub mod audit_stats;
pub mod auth;
pub mod download_links;
pub mod event_lookup;
pub mod events_query;
pub mod export;
pub mod export_csv;
pub mod export_memory;
pub mod groups;
pub mod groups_model;
pub mod hour_shards;
pub mod layout_migrations;
pub mod pagination;
pub mod planner_statistics;
pub mod read_path;
pub mod schema;
pub mod schema_document;
pub mod schema_outage;
pub mod search;
pub mod stats;
pub mod stats_windows;
pub mod timeline;
pub mod timeline_migration;
pub mod timeline_read_path;
pub mod timeline_rollup;
pub mod web_view;
