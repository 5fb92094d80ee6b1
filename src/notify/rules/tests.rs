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

/// The messages say which rule and which field, in the words they have always used (an unknown
/// field is named in serde's words).
#[test]
fn messages_name_the_rule_and_the_field() {
    let url = "https://hooks.example.test/x";
    let cases = [
        ("{", "not valid JSON (line 1, column 1)".to_owned()),
        ("[1,]", "not valid JSON (line 1, column 4)".to_owned()),
        (r#"{"a":1}"#, "must be a JSON array of rules".to_owned()),
        ("[1]", "rule 0: must be an object".to_owned()),
        (r#"[["a"]]"#, "rule 0: must be an object".to_owned()),
        (
            r#"[{"types":["*"]}]"#,
            "rule 0: \"name\" is required and must be a string".to_owned(),
        ),
        (
            r#"[{"name":7}]"#,
            "rule 0: \"name\" is required and must be a string".to_owned(),
        ),
        (
            r#"[{"name":"A"}]"#,
            "rule 0: \"name\" must be 1 to 64 characters of a-z, 0-9, _ and -".to_owned(),
        ),
        (
            r#"[{"name":"a"}]"#,
            "rule 0: \"a\": \"types\" is required and must be an array of event types".to_owned(),
        ),
        (
            r#"[{"name":"a","types":["x",""]}]"#,
            "rule 0: \"a\": \"types\" must list at least one non-empty type (\"*\" for all)"
                .to_owned(),
        ),
        (
            r#"[{"name":"a","types":["*"]}]"#,
            "rule 0: \"a\": exactly one of \"slack\" and \"webhook\" must be given".to_owned(),
        ),
        (
            &format!(r#"[{{"name":"a","types":["*"],"slack":null,"webhook":"{url}"}}]"#),
            "rule 0: \"a\": exactly one of \"slack\" and \"webhook\" must be given".to_owned(),
        ),
        (
            r#"[{"name":"a","types":["*"],"webhook":null}]"#,
            "rule 0: \"a\": \"webhook\" must be an http:// or https:// URL".to_owned(),
        ),
        (
            r#"[{"name":"a","types":["*"],"slack":"mailto:x@y"}]"#,
            "rule 0: \"a\": \"slack\" must be an http:// or https:// URL".to_owned(),
        ),
        (
            &format!(
                r#"[{{"name":"a","types":["*"],"slack":"{url}"}},{{"name":"a","types":["*"],"slack":"{url}"}}]"#
            ),
            "rule 1: name \"a\" is used twice".to_owned(),
        ),
        (
            &format!("[{}]", vec!["1"; MAX_RULES + 1].join(",")),
            format!("at most {MAX_RULES} rules"),
        ),
    ];
    for (text, message) in cases {
        let err = rules(text).expect_err(text);
        assert_eq!(
            err.to_string(),
            format!("NOTIFY_RULES: {message}"),
            "{text}"
        );
    }
    let unknown = rules(&format!(
        r#"[{{"name":"a","types":["*"],"slack":"{url}","color":1}}]"#
    ))
    .unwrap_err()
    .to_string();
    assert!(
        unknown.starts_with("NOTIFY_RULES: rule 0: unknown field") && unknown.contains("color"),
        "{unknown}"
    );
}

/// A key given twice counts once, its last value (as JSON objects are read).
#[test]
fn a_repeated_key_takes_its_last_value() {
    let text = r#"[{"name":"x","name":"a","types":["*"],"webhook":"http://h/"}]"#;
    assert!(rules(text).unwrap().get("a").is_some());
}
