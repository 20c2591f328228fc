//! Identifiers and formats Lambda clients expect.

use time::OffsetDateTime;
use time::macros::format_description;

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An X-Ray-style trace header value, passed to functions as `Lambda-Runtime-Trace-Id`.
pub fn trace_id() -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{now:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}

/// Lambda's `LastModified` format: `2024-01-31T12:00:00.000+0000`.
pub fn last_modified_now() -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

pub fn now_epoch_ms() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct Arns {
    pub region: String,
    pub account_id: String,
}

impl Arns {
    pub fn function(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account_id)
    }

    pub fn qualified(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{qualifier}", self.function(name))
    }
}

/// Splits the `FunctionName` path parameter, which may be a name, `name:qualifier`, or a full or
/// partial ARN, into the name and an optional qualifier.
pub fn parse_function_ref(value: &str) -> (String, Option<String>) {
    let rest = value.strip_prefix("arn:aws:lambda:").map_or(value, |arn| {
        // region:account:function:name[:qualifier]
        arn.splitn(4, ':').nth(3).unwrap_or(arn)
    });
    let rest = match rest.split_once(":function:") {
        // A partial ARN: account:function:name[:qualifier]
        Some((account, after)) if account.bytes().all(|b| b.is_ascii_digit()) => after,
        _ => rest.strip_prefix("function:").unwrap_or(rest),
    };
    let (rest, qualifier) = match rest.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_string())),
        None => (rest, None),
    };
    (rest.to_string(), qualifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_refs() {
        assert_eq!(parse_function_ref("f"), ("f".into(), None));
        assert_eq!(parse_function_ref("f:live"), ("f".into(), Some("live".into())));
        assert_eq!(
            parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:f"),
            ("f".into(), None)
        );
        assert_eq!(
            parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:f:3"),
            ("f".into(), Some("3".into()))
        );
        assert_eq!(parse_function_ref("000000000000:function:f"), ("f".into(), None));
    }
}
