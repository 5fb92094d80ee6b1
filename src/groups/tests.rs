use super::*;

fn sums(events: i64, cost: f64, durations: &[f64]) -> GroupSums {
    GroupSums {
        events,
        cost,
        total_cost: cost / 2.0,
        duration_count: durations.len() as i64,
        duration_sum: durations.iter().sum(),
        duration_max: durations.iter().copied().reduce(f64::max),
    }
}

fn key(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn keys(groups: &[Group]) -> Vec<Option<&str>> {
    groups.iter().map(|g| g.key.as_deref()).collect()
}

#[test]
fn parts_of_one_group_add_up_and_keep_the_largest_duration() {
    let groups = fold([
        (key("a"), sums(2, 0.5, &[10.0, 30.0])),
        (None, sums(1, 0.0, &[])),
        (key("a"), sums(1, 0.25, &[20.0])),
        (key("a"), sums(3, 0.0, &[])),
    ]);
    let a = groups.iter().find(|g| g.key == key("a")).expect("a");
    assert_eq!((a.events, a.cost, a.total_cost), (6, 0.75, 0.375));
    assert_eq!(a.duration_count, 3);
    assert_eq!(
        (a.duration_mean_ms, a.duration_max_ms),
        (Some(20.0), Some(30.0))
    );
    let none = groups.iter().find(|g| g.key.is_none()).expect("no key");
    assert_eq!((none.duration_mean_ms, none.duration_max_ms), (None, None));
}

#[test]
fn groups_left_without_events_are_left_out() {
    let groups = fold([
        (key("gone"), sums(0, 0.0, &[])),
        (key("b"), sums(1, 0.0, &[])),
    ]);
    assert_eq!(keys(&groups), [Some("b")]);
}

fn sample() -> Vec<Group> {
    fold([
        (key("b"), sums(1, 2.0, &[])),
        (None, sums(5, 2.0, &[])),
        (key("a"), sums(5, 2.0, &[])),
        (key("c"), sums(9, 0.5, &[])),
        (key("d"), sums(1, 3.0, &[])),
    ])
}

#[test]
fn cost_order_breaks_ties_by_events_then_key_with_no_key_last() {
    let (page, next) = page(sample(), GroupSort::Cost, None, 10);
    assert_eq!(
        keys(&page),
        [Some("d"), Some("a"), None, Some("b"), Some("c")]
    );
    assert_eq!(next, None);
}

#[test]
fn events_order_breaks_ties_by_cost_then_key() {
    let (page, _) = page(sample(), GroupSort::Events, None, 10);
    assert_eq!(
        keys(&page),
        [Some("c"), Some("a"), None, Some("d"), Some("b")]
    );
}

#[test]
fn cursors_page_through_every_group_once() {
    for sort in [GroupSort::Cost, GroupSort::Events] {
        let (all, _) = page(sample(), sort, None, 10);
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (groups, next) = page(sample(), sort, cursor.as_ref(), 2);
            seen.extend(groups);
            match next {
                Some(next) => cursor = Some(GroupCursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, all, "{sort:?}");
    }
}

#[test]
fn a_cursor_after_the_last_group_gives_an_empty_page() {
    let after = GroupCursor {
        events: 0,
        cost: -1.0,
        key: None,
    };
    assert_eq!(
        page(sample(), GroupSort::Cost, Some(&after), 5),
        (vec![], None)
    );
}

#[test]
fn costs_differing_in_their_last_bits_order_as_one() {
    assert_eq!(ordering_cost(0.1 + 0.2), ordering_cost(0.3));
    assert_eq!(ordering_cost(-0.0).to_string(), "0");
    assert!(ordering_cost(0.3) > ordering_cost(0.299_999_999));
    let noisy = fold([(key("x"), sums(1, 0.1 + 0.2, &[]))]);
    let exact = GroupCursor {
        events: 1,
        cost: ordering_cost(0.3),
        key: key("x"),
    };
    assert_eq!(page(noisy, GroupSort::Cost, Some(&exact), 5).0, vec![]);
}

#[test]
fn days_are_keyed_by_their_utc_date() {
    assert_eq!(day_key(0), "1970-01-01");
    assert_eq!(day_key(-86_400_000_000), "1969-12-31");
    assert_eq!(day_key(1_795_824_000_000_000), "2026-11-28");
}
