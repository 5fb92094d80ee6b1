//! The driver's choice and the residual SQL, as text: what is bound and what is pushed.

use super::*;

fn filters(query: &str) -> AuditFilters {
    AuditFilters::parse(Some(query), true).expect(query)
}

#[test]
fn the_first_id_given_drives_in_a_fixed_order() {
    let cases = [
        ("", None),
        ("webhookId=w&instanceId=i", Some(IdFilter::Instance)),
        ("workflowId=f&swarmId=s", Some(IdFilter::Swarm)),
        ("webhookId=w&agentId=a", Some(IdFilter::Agent)),
        ("data.agentId=a", None),
    ];
    for (query, driver) in cases {
        assert_eq!(IdFilter::driver(&filters(query)), driver, "{query}");
    }
}

#[test]
fn a_page_without_ids_is_driven_by_its_types() {
    let types = vec![b"a".to_vec(), b"b".to_vec()];
    let none = filters("data.x=1");
    let driver = Driver::of(&none, &types);
    assert_eq!((driver.column, driver.keys.len()), ("type", 2));
    let ids = filters("swarmId=s1,s2,s3&webhookId=w");
    let driver = Driver::of(&ids, &types);
    assert_eq!((driver.column, driver.keys.len()), ("swarm_id", 3));
}

#[test]
fn residual_conditions_leave_out_the_driver_and_bind_every_value() {
    let filters = filters("agentId=a1,a2&webhookId=w&data.n=4&data.s=x");
    let types = vec!["t".to_owned()];
    let mut query = QueryBuilder::<Sqlite>::new("select 1 from events where 1");
    push_residual(&mut query, &types, &filters, Some("agent_id"));
    let sql = query.sql();
    assert!(sql.contains(" and +type in (?)"), "{sql}");
    assert!(sql.contains(" and +webhook_id in (?)"), "{sql}");
    assert!(!sql.contains("agent_id"), "{sql}");
    assert!(
        !sql.contains("data") && !sql.contains('"'),
        "the path is bound: {sql}"
    );
    let mut query = QueryBuilder::<Postgres>::new("select 1 from events where true");
    push_residual(&mut query, &types, &filters, Some("type"));
    let sql = query.sql();
    assert!(!sql.contains("type"), "{sql}");
    assert!(
        sql.contains(" and agent_id in ($1, $2) and webhook_id in ($3)"),
        "{sql}"
    );
    assert!(
        sql.contains("dash_events_json_number(body, $4) = $5"),
        "{sql}"
    );
    assert!(
        sql.contains("dash_events_json_string(body, $6) = $7"),
        "{sql}"
    );
}
