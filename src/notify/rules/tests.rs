use super::*;

const SLACK_URL: &str = "https://hooks.example.test/services/T000/B000/XXXXSECRET";

fn rules(text: &str) -> Result<Rules, InvalidRules> {
    Rules::parse(text)
}

#[test]
fn valid_rules_parse_and_match() {
    let text = format!(
        r#"[{{"name":"budget-slack","types":["budget:warning","budget:exceeded"],"slack":"{SLACK_URL}"}},
            {{"name":"all_to_ops","types":["*"],"webhook":"http://127.0.0.1:9/in"}}]"#
    );
    let rules = rules(&text).expect("valid");
    let names = |t| rules.matching(t).collect::<Vec<_>>();
    assert_eq!(names("budget:warning"), ["budget-slack", "all_to_ops"]);
    assert_eq!(names("agent:complete"), ["all_to_ops"]);
    assert_eq!(rules.get("budget-slack").unwrap().target.kind(), "slack");
    assert_eq!(rules.get("all_to_ops").unwrap().target.kind(), "webhook");
    assert!(rules.get("nope").is_none());
    assert!(Rules::parse("[]").unwrap().is_empty());
}

#[test]
fn invalid_rules_are_refused_with_a_message_that_never_shows_the_url() {
    let one = |rule: &str| format!("[{rule}]");
    let cases = [
        ("not json", "{".to_owned()),
        (
            "not an array",
            format!(r#"{{"name":"a","types":["*"],"slack":"{SLACK_URL}"}}"#),
        ),
        (
            "no name",
            one(&format!(r#"{{"types":["*"],"slack":"{SLACK_URL}"}}"#)),
        ),
        (
            "bad name",
            one(&format!(
                r#"{{"name":"Big","types":["*"],"slack":"{SLACK_URL}"}}"#
            )),
        ),
        (
            "long name",
            one(&format!(
                r#"{{"name":"{}","types":["*"],"slack":"{SLACK_URL}"}}"#,
                "a".repeat(65)
            )),
        ),
        (
            "no types",
            one(&format!(r#"{{"name":"a","slack":"{SLACK_URL}"}}"#)),
        ),
        (
            "empty types",
            one(&format!(
                r#"{{"name":"a","types":[],"slack":"{SLACK_URL}"}}"#
            )),
        ),
        (
            "type not a string",
            one(&format!(
                r#"{{"name":"a","types":[1],"slack":"{SLACK_URL}"}}"#
            )),
        ),
        (
            "both targets",
            one(&format!(
                r#"{{"name":"a","types":["*"],"slack":"{SLACK_URL}","webhook":"{SLACK_URL}"}}"#
            )),
        ),
        ("no target", one(r#"{"name":"a","types":["*"]}"#)),
        (
            "not a URL",
            one(r#"{"name":"a","types":["*"],"webhook":"hooks/XXXXSECRET"}"#),
        ),
        (
            "ftp URL",
            one(r#"{"name":"a","types":["*"],"webhook":"ftp://h/XXXXSECRET"}"#),
        ),
        (
            "unknown field",
            one(&format!(
                r#"{{"name":"a","types":["*"],"slack":"{SLACK_URL}","x":1}}"#
            )),
        ),
        (
            "URL where types go",
            one(&format!(
                r#"{{"name":"a","types":"{SLACK_URL}","slack":"{SLACK_URL}"}}"#
            )),
        ),
        (
            "duplicate name",
            format!(
                r#"[{{"name":"a","types":["*"],"slack":"{SLACK_URL}"}},{{"name":"a","types":["*"],"slack":"{SLACK_URL}"}}]"#
            ),
        ),
    ];
    for (case, text) in cases {
        let err = rules(&text).expect_err(case);
        let message = err.to_string();
        assert!(message.starts_with("NOTIFY_RULES: "), "{case}: {message}");
        assert!(
            !message.contains("XXXXSECRET"),
            "{case} leaked the URL: {message}"
        );
    }
}

#[test]
fn debug_output_redacts_the_urls() {
    let text = format!(r#"[{{"name":"a","types":["*"],"slack":"{SLACK_URL}"}}]"#);
    let printed = format!("{:?}", rules(&text).unwrap());
    assert!(!printed.contains("XXXXSECRET"), "{printed}");
}
