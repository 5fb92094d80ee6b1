use super::*;
use crate::query::{DataFilter, DataValue};
use crate::timeline::Width;

fn plan(width: Width, since_us: i64, until_us: i64) -> Plan {
    Plan::new(width, TimeRange { since_us, until_us }).expect("a valid plan")
}

fn range(since_us: i64, until_us: i64) -> TimeRange {
    TimeRange { since_us, until_us }
}

fn parts_with(types: &[Vec<u8>], plan: &Plan, filters: &AuditFilters) -> Vec<(Source, TimeRange)> {
    let dialect = Dialect::Sqlite;
    parts(&Read {
        types,
        plan,
        filters,
        dialect,
    })
}

fn parts_of(types: &[Vec<u8>], plan: &Plan) -> Vec<(Source, TimeRange)> {
    parts_with(types, plan, &AuditFilters::default())
}

#[test]
fn whole_hours_come_from_the_totals_and_partial_ones_from_the_events() {
    let types = [b"a".to_vec()];
    let (since, until) = (HOUR_US / 2, 5 * HOUR_US + 7);
    assert_eq!(
        parts_of(&types, &plan(Width::Day, since, until)),
        [
            (Source::Hours, range(HOUR_US, 5 * HOUR_US)),
            (Source::Events, range(since, HOUR_US)),
            (Source::Events, range(5 * HOUR_US, until)),
        ]
    );
}

#[test]
fn aligned_ranges_read_no_events_and_short_ones_no_totals() {
    let types = [b"a".to_vec()];
    let aligned = plan(Width::Hour, -3 * HOUR_US, 2 * HOUR_US);
    assert_eq!(
        parts_of(&types, &aligned),
        [(Source::Hours, range(-3 * HOUR_US, 2 * HOUR_US))]
    );
    let short = plan(Width::Hour, -10, 20);
    assert_eq!(parts_of(&types, &short), [(Source::Events, range(-10, 20))]);
    assert!(parts_of(&types, &plan(Width::Hour, 5, 5)).is_empty());
    assert!(parts_of(&[], &aligned).is_empty());
}

#[test]
fn a_data_filter_reads_the_whole_range_from_the_events() {
    let types = [b"a".to_vec()];
    let filters = AuditFilters {
        data: vec![DataFilter {
            field: "model".into(),
            values: vec![DataValue::Bool(true)],
        }],
        ..AuditFilters::default()
    };
    let aligned = plan(Width::Hour, -3 * HOUR_US, 2 * HOUR_US);
    assert_eq!(
        parts_with(&types, &aligned, &filters),
        [(Source::Events, range(-3 * HOUR_US, 2 * HOUR_US))]
    );
}
