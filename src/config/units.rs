//! Human-friendly units in `feeds.toml`: durations (`"30s"`, `"1m 30s"`) and
//! byte sizes (`"10MiB"`, `"500 kB"`).

use std::time::Duration;

/// Parses a duration such as `"30s"`, `"2m"`, `"1h 30m"` or `"500ms"`.
///
/// A bare number is refused on purpose: `timeout = "30"` could mean seconds or
/// milliseconds, and guessing wrong makes a daemon either hang or give up.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{trimmed}` has no unit; write it like \"{trimmed}s\" (units: ms, s, m, h, d)"
        ));
    }
    humantime::parse_duration(trimmed).map_err(|err| {
        format!(
            "`{trimmed}` is not a duration ({err}); write it like \"30s\", \"2m\" or \"1h 30m\""
        )
    })
}

/// Parses a byte size such as `"10MiB"`, `"512 KiB"`, `"5MB"` or `"1000000"`.
///
/// Binary (`KiB`, `MiB`, `GiB`) and decimal (`kB`, `MB`, `GB`) units are both
/// accepted because operators write both; a bare number means bytes.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let bad =
        || format!("`{trimmed}` is not a size; write it like \"10MiB\", \"512KiB\" or \"5MB\"");
    let value: f64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!(
            "`{trimmed}` is out of range; use at least one byte"
        ));
    }
    // In range and finite (checked above): the conversion only drops the
    // fraction of a byte.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range checked above"
    )]
    Ok(bytes as u64)
}

pub use crate::text::format_byte_size;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_byte_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_byte_size("512 KiB").unwrap(), 512 << 10);
        assert_eq!(parse_byte_size("5MB").unwrap(), 5_000_000);
        assert_eq!(parse_byte_size("1000").unwrap(), 1000);
        assert_eq!(parse_byte_size("1.5GiB").unwrap(), 3 << 29);
        assert!(parse_byte_size("ten").is_err());
        assert!(parse_byte_size("10 parsecs").is_err());
        assert!(parse_byte_size("0").is_err());
        assert_eq!(format_byte_size(10 << 20), "10MiB");
        assert_eq!(format_byte_size(1000), "1000 bytes");
    }
}
