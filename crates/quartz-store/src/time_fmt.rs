use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// Always three fractional digits: RFC 3339's own formatter drops trailing zeros (`.1Z`), and
/// `Z` sorts after digits, so `.1Z` would sort after `.15Z` and break time order as text.
const FIXED_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Now, in UTC, as RFC 3339 with exactly millisecond precision: sortable as text.
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(FIXED_MILLIS)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_fixed_width_and_sort_as_text() {
        let a = now_rfc3339();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now_rfc3339();
        assert_eq!(a.len(), "2026-12-03T18:55:01.120Z".len(), "{a}");
        assert!(a < b, "{a} !< {b}");
        assert!(time::OffsetDateTime::parse(&a, &time::format_description::well_known::Rfc3339).is_ok());
    }
}
