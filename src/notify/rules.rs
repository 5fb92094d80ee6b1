//! Notification rules: which event types go where. `NOTIFY_RULES` is a JSON array of rules, each
//! `{"name", "types", "slack" | "webhook"}`; `"*"` among the types matches every type. The
//! target URLs are credentials (a Slack incoming-webhook URL is all it takes to post), so they
//! live in `Secret`s and no message, log line or API answer ever contains one.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::secret::Secret;

/// Most rules one configuration may hold; every stored event is matched against each.
pub const MAX_RULES: usize = 100;
/// Longest rule name.
const MAX_NAME_LEN: usize = 64;
/// The type that matches every event type.
const ANY_TYPE: &str = "*";

/// Where a rule sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Slack incoming webhook: a Block Kit message.
    Slack(Secret),
    /// A generic HTTP endpoint: the event's signed body, unchanged.
    Webhook(Secret),
}

impl Target {
    /// `slack` or `webhook`, as the API shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Slack(_) => "slack",
            Self::Webhook(_) => "webhook",
        }
    }

    /// The URL to POST to (a secret: never log it).
    pub fn url(&self) -> &Secret {
        match self {
            Self::Slack(url) | Self::Webhook(url) => url,
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique, `[a-z0-9_-]{1,64}`; stored with each notification.
    pub name: String,
    /// The event types it matches; `"*"` matches all.
    pub types: Vec<String>,
    /// Where it sends.
    pub target: Target,
}

impl Rule {
    /// Whether events of `event_type` go to this rule's target.
    pub fn matches(&self, event_type: &str) -> bool {
        self.types.iter().any(|t| t == ANY_TYPE || t == event_type)
    }
}

/// The configured rules; empty when `NOTIFY_RULES` is unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// `NOTIFY_RULES` is not a valid set of rules; the message says where, never what URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NOTIFY_RULES: {0}")]
pub struct InvalidRules(pub String);

impl Rules {
    /// Parses the JSON text of `NOTIFY_RULES`.
    pub fn parse(text: &str) -> Result<Self, InvalidRules> {
        // serde's messages may quote a value, and a value may be a URL: only the position is kept.
        let value: Value = serde_json::from_str(text).map_err(|err| {
            invalid(format!(
                "not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            ))
        })?;
        let Value::Array(items) = value else {
            return Err(invalid("must be a JSON array of rules"));
        };
        if items.len() > MAX_RULES {
            return Err(invalid(format!("at most {MAX_RULES} rules")));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            let rule = RuleFields::read(item)
                .and_then(RuleFields::validate)
                .map_err(|why| invalid(format!("rule {n}: {why}")))?;
            if rules.iter().any(|r| r.name == rule.name) {
                return Err(invalid(format!(
                    "rule {n}: name {:?} is used twice",
                    rule.name
                )));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Rules built in code (tests).
    pub fn new(rules: Vec<Rule>) -> Self {
        Self { rules }
    }

    /// Whether no rule is configured (then nothing is ever recorded or sent).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The names of the rules that match `event_type`, in configuration order.
    pub fn matching<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.rules
            .iter()
            .filter(move |rule| rule.matches(event_type))
            .map(|rule| rule.name.as_str())
    }

    /// The rule called `name`, if configured.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.name == name)
    }
}

/// A field of a rule as given: the expected type, something else, or nothing. Reading a rule
/// never fails on a field's value, so no message ever quotes one (a value may be a URL); what is
/// wrong with it is judged afterwards, in the order the messages name the fields.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Given<T> {
    /// The expected type.
    Valid(T),
    /// Any other JSON value (`null` included).
    Invalid(IgnoredAny),
    /// The field is not there.
    #[default]
    #[serde(skip_deserializing)]
    Absent,
}

impl<T> Given<T> {
    fn valid(self) -> Option<T> {
        match self {
            Self::Valid(value) => Some(value),
            Self::Invalid(_) | Self::Absent => None,
        }
    }

    fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }
}

/// One rule of `NOTIFY_RULES` as written, before validation. Not `Debug`: it holds the URLs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFields {
    #[serde(default)]
    name: Given<String>,
    #[serde(default)]
    types: Given<Vec<Given<String>>>,
    #[serde(default)]
    slack: Given<String>,
    #[serde(default)]
    webhook: Given<String>,
}

impl RuleFields {
    /// Reads one item of the array. A JSON object's keys are already unique (the last of a
    /// repeated key counts), so the only error left is an unknown field, which serde names.
    fn read(item: &Value) -> Result<Self, String> {
        if !item.is_object() {
            return Err("must be an object".into());
        }
        Self::deserialize(item).map_err(|err| err.to_string())
    }

    /// The rule, or what is wrong with it: first its name, then (naming the rule) its types and
    /// its target.
    fn validate(self) -> Result<Rule, String> {
        let name = validate_name(self.name)?;
        let types = validate_types(self.types).map_err(|why| format!("{name:?}: {why}"))?;
        let target =
            validate_target(self.slack, self.webhook).map_err(|why| format!("{name:?}: {why}"))?;
        Ok(Rule {
            name,
            types,
            target,
        })
    }
}

fn validate_name(name: Given<String>) -> Result<String, String> {
    let Some(name) = name.valid() else {
        return Err("\"name\" is required and must be a string".into());
    };
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(allowed) {
        return Err(format!(
            "\"name\" must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9, _ and -"
        ));
    }
    Ok(name)
}

fn validate_types(types: Given<Vec<Given<String>>>) -> Result<Vec<String>, String> {
    let Some(types) = types.valid() else {
        return Err("\"types\" is required and must be an array of event types".into());
    };
    let types: Option<Vec<String>> = types
        .into_iter()
        .map(|t| t.valid().filter(|t| !t.is_empty()))
        .collect();
    match types {
        Some(types) if !types.is_empty() => Ok(types),
        _ => Err("\"types\" must list at least one non-empty type (\"*\" for all)".into()),
    }
}

fn validate_target(slack: Given<String>, webhook: Given<String>) -> Result<Target, String> {
    let target = match (slack.is_absent(), webhook.is_absent()) {
        (false, true) => Target::Slack(validate_url("slack", slack)?),
        (true, false) => Target::Webhook(validate_url("webhook", webhook)?),
        _ => return Err("exactly one of \"slack\" and \"webhook\" must be given".into()),
    };
    Ok(target)
}

fn validate_url(field: &str, value: Given<String>) -> Result<Secret, String> {
    let usable = |text: &str| {
        reqwest::Url::parse(text)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
    };
    match value.valid() {
        Some(text) if usable(&text) => Ok(Secret::new(text)),
        _ => Err(format!("\"{field}\" must be an http:// or https:// URL")),
    }
}

fn invalid(message: impl Into<String>) -> InvalidRules {
    InvalidRules(message.into())
}

#[cfg(test)]
mod tests;
