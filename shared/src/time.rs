//! Timestamps in the course's format.

use time::OffsetDateTime;

/// Formats an instant as RFC 3339 in UTC with a `+00:00` offset and microseconds, the shape
/// FastAPI clients already parse: `2026-11-21T04:20:05.645347+00:00`.
pub fn rfc3339_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Now, formatted by [`rfc3339_utc`].
pub fn now_rfc3339() -> String {
    rfc3339_utc(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_an_explicit_utc_offset() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_795_235_205_645_347_000).unwrap();
        assert_eq!(rfc3339_utc(t), "2026-11-21T04:26:45.645347+00:00");
        let parsed = OffsetDateTime::parse(
            &rfc3339_utc(t),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(parsed, t);
    }
}
