use clap::Parser;

use super::*;
use crate::cli::{Cli, Command, parse};
use crate::query::{GroupBy, GroupSort, TimeRange};

/// 2026-11-28T10:00:00Z.
const NOW_US: i64 = 1_795_860_000_000_000;

fn args(flags: &[&str]) -> QueryArgs {
    let mut all = vec!["query"];
    all.extend_from_slice(flags);
    let Command::Query(args) = parse(&all).command else {
        panic!("expected query");
    };
    args
}

fn refusal(flags: &[&str]) -> String {
    args(flags).query(NOW_US).expect_err("refused").to_string()
}

#[test]
fn every_filter_flag_becomes_its_parameter() {
    let query = args(&[
        "--type=a,b",
        "--type=c",
        "--agent=ag-1",
        "--agent=ag-2,ag-3",
        "--swarm=s",
        "--workflow=w",
        "--instance=i",
        "--webhook=h",
        "--data=status=ok",
        "--data=n=42",
        "--since=2026-11-20T00:00:00Z",
        "--until=2026-11-28T00:00:00Z",
        "--search=disk full",
        "--search-index",
        "--limit=7",
    ])
    .query(NOW_US)
    .expect("valid");
    let Mode::Events { params, limit } = query.mode else {
        panic!("expected events");
    };
    let http = "type=a,b&type=c&agentId=ag-1&agentId=ag-2,ag-3&swarmId=s&workflowId=w&\
                instanceId=i&webhookId=h&data.status=ok&data.n=42&since=2026-11-20T00:00:00Z&\
                until=2026-11-28T00:00:00Z&q=disk+full&limit=7";
    assert_eq!(params, ListParams::parse(Some(http)).unwrap());
    assert_eq!(params.filters.agent_ids, ["ag-1", "ag-2", "ag-3"]);
    assert_eq!(limit, Some(7));
}

#[test]
fn without_a_limit_every_event_is_read_a_page_at_a_time() {
    let Mode::Events { params, limit } = args(&[]).query(NOW_US).unwrap().mode else {
        panic!("expected events");
    };
    assert_eq!((params.limit, limit), (EXPORT_PAGE, None));
    assert_eq!(params.range, TimeRange::ALL);
    let Mode::Events { params, limit } = args(&["--limit", "1000"]).query(NOW_US).unwrap().mode
    else {
        panic!("expected events");
    };
    assert_eq!((params.limit, limit), (EXPORT_PAGE, Some(1000)));
}

#[test]
fn group_by_reads_the_groups_parameters() {
    let query = args(&[
        "--group-by=workflowId",
        "--sort=events",
        "--agent=a",
        "--limit=3",
    ])
    .query(NOW_US)
    .unwrap();
    let Mode::Groups { params, limit } = query.mode else {
        panic!("expected groups");
    };
    assert_eq!(
        (params.by, params.sort),
        (GroupBy::WorkflowId, GroupSort::Events)
    );
    assert_eq!(limit, Some(3));
    assert_eq!(params.filters.agent_ids, ["a"]);
    let Mode::Groups { limit, .. } = args(&["--group-by=day"]).query(NOW_US).unwrap().mode else {
        panic!("expected groups");
    };
    assert_eq!(limit, None);
}

#[test]
fn a_refusal_names_the_flag_not_the_parameter() {
    let many = (0..21)
        .map(|n| format!("a{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let long = "x".repeat(201);
    let cases: [(&[&str], &str); 15] = [
        (&["--agent="], "--agent: "),
        (&["--swarm=a,,b"], "--swarm: "),
        (&["--workflow", ""], "--workflow: "),
        (&["--instance", &many], "--instance: "),
        (&["--webhook="], "--webhook: "),
        (&["--type="], "--type: "),
        (&["--since=yesterday"], "--since: "),
        (&["--until=2026-11-28"], "--until: "),
        (&["--search", &long, "--search-index"], "--search: "),
        (&["--search", "disk"], "--search: "),
        (&["--limit=0"], "--limit: "),
        (
            &["--data=a.b=1", "--since=2026-11-27T00:00:00Z"],
            "--data a.b: ",
        ),
        (&["--data=status"], "--data status: "),
        (&["--data=status=ok"], "--since: "),
        (&["--group-by=agent"], "--group-by: "),
    ];
    for (flags, start) in cases {
        let message = refusal(flags);
        assert!(message.starts_with(start), "{flags:?}: {message}");
        assert!(!message.contains("agentId:"), "{flags:?}: {message}");
    }
    let sort = refusal(&["--group-by=type", "--sort=time"]);
    assert!(sort.starts_with("--sort: "), "{sort}");
}

#[test]
fn search_with_groups_and_sort_without_them_are_usage_errors() {
    for flags in [
        &["query", "--group-by=type", "--search=x"][..],
        &["query", "--sort=cost"],
        &["query", "--format=xml"],
    ] {
        let err = Cli::try_parse_from(std::iter::once("dash-events").chain(flags.iter().copied()))
            .expect_err("refused by clap");
        assert_eq!(err.exit_code(), 2, "{flags:?}");
    }
}

#[test]
fn refusals_without_a_known_parameter_are_kept_whole() {
    assert_eq!(flag_message(&BadParam("odd".into())), "odd");
    assert_eq!(flag_message(&BadParam("cursor: x".into())), "cursor: x");
    assert_eq!(flag_message(&BadParam("data.: x".into())), "--data: x");
}
