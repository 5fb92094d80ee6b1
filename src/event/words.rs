//! The words text search finds an event by (`q=`): the string values of a fixed list of `data`
//! fields, cut into runs of letters and digits and lower-cased. The same cut applies to a query,
//! so both backends' indexes hold exactly these words and match exactly them (neither database's
//! own parser decides what a word is: PostgreSQL's would keep `api.example.com` whole).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The `data` fields whose string values are searched.
pub const SEARCHED_FIELDS: [&str; 13] = [
    "task",
    "result",
    "error",
    "reason",
    "name",
    "action",
    "status",
    "output",
    "model",
    "stepId",
    "agentId",
    "swarmId",
    "workflowId",
];

/// Longest word indexed, in characters: longer runs (hashes, encoded blobs) are left out.
pub const MAX_WORD_CHARS: usize = 100;

/// Most bytes of distinct words indexed per event: an `output` of a megabyte of prose still gets
/// an index entry of bounded size (PostgreSQL refuses a tsvector over 1 MB).
pub const MAX_WORDS_BYTES: usize = 32 * 1024;

/// The distinct words of a stored body's searched fields, sorted, at most `MAX_WORDS_BYTES` of
/// them (the alphabetically first); none for a body that is not a JSON object with `data`.
pub fn event_words(body: &[u8]) -> Vec<String> {
    let Ok(object) = super::lenient::from_slice::<Map<String, Value>>(body) else {
        return Vec::new();
    };
    let Some(Value::Object(data)) = object.get("data") else {
        return Vec::new();
    };
    let words: BTreeSet<String> = SEARCHED_FIELDS
        .iter()
        .filter_map(|field| data.get(*field).and_then(Value::as_str))
        .flat_map(words_of)
        .filter(|word| word.chars().count() <= MAX_WORD_CHARS)
        .collect();
    let mut total = 0;
    words
        .into_iter()
        .take_while(|word| {
            total += word.len() + 1;
            total <= MAX_WORDS_BYTES
        })
        .collect()
}

/// The distinct words of a search string, in the order they first appear (a word longer than
/// `MAX_WORD_CHARS` is kept: it matches no event, as no event's word that long is indexed).
pub fn query_words(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    words_of(text)
        .filter(|word| seen.insert(word.clone()))
        .collect()
}

/// The runs of letters and digits of `text`, lower-cased.
fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(data: Value) -> Vec<String> {
        let body =
            json!({"id": "e", "type": "t", "timestamp": "2026-01-01T00:00:00Z", "data": data});
        event_words(body.to_string().as_bytes())
    }

    #[test]
    fn searched_fields_are_cut_into_lower_case_words() {
        let found = words(json!({
            "task": "Run the Migration", "result": "ok: 3 rows", "error": "E_TIMEOUT at db.example.com",
            "reason": "budget", "name": "nightly", "agentId": "agent-7", "stepId": "step_2",
        }));
        let expected = [
            "3",
            "7",
            "2",
            "agent",
            "at",
            "budget",
            "com",
            "db",
            "e",
            "example",
            "migration",
            "nightly",
            "ok",
            "rows",
            "run",
            "step",
            "the",
            "timeout",
        ];
        let mut expected: Vec<String> = expected.iter().map(|w| w.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected);
    }

    #[test]
    fn other_fields_and_non_strings_are_not_searched() {
        let found = words(json!({
            "prompt": "secret", "cost": 0.5, "task": {"nested": "deep"}, "result": ["listed"],
            "status": "done",
        }));
        assert_eq!(found, ["done"]);
    }

    #[test]
    fn letters_and_digits_of_any_script_make_words() {
        let found = words(json!({"task": "Café ÜBER naïve 東京 №5 x²"}));
        assert_eq!(found, ["5", "café", "naïve", "x²", "über", "東京"]);
    }

    #[test]
    fn long_runs_are_left_out_and_the_total_is_bounded() {
        let long = "a".repeat(MAX_WORD_CHARS + 1);
        let just = "b".repeat(MAX_WORD_CHARS);
        assert_eq!(words(json!({"task": format!("{long} {just}")})), [just]);
        let many: Vec<String> = (0..20_000).map(|n| format!("w{n}")).collect();
        let found = words(json!({"output": many.join(" ")}));
        let bytes: usize = found.iter().map(|w| w.len() + 1).sum();
        assert!(
            bytes <= MAX_WORDS_BYTES && bytes > MAX_WORDS_BYTES - 10,
            "{bytes}"
        );
    }

    #[test]
    fn bodies_without_data_have_no_words() {
        assert!(event_words(b"not json").is_empty());
        assert!(event_words(br#"{"data": "text"}"#).is_empty());
        assert!(event_words(br#"[1]"#).is_empty());
    }

    #[test]
    fn a_query_is_cut_like_an_event() {
        assert_eq!(
            query_words("  Migration, db.EXAMPLE migration!"),
            ["migration", "db", "example"]
        );
        assert!(query_words("!!! ---").is_empty());
        let long = "z".repeat(MAX_WORD_CHARS + 1);
        assert_eq!(query_words(&long), vec![long], "kept, to match nothing");
    }
}
