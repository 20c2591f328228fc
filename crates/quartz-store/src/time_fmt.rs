use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, in UTC, as RFC 3339 with millisecond precision: sortable as text.
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let truncated = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    truncated
        .format(&Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}
