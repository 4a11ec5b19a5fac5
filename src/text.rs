//! Small text helpers shared by the stages.

/// 1-based line and column (in characters) of a byte offset, for messages
/// that point into a file or document. Offsets past the end or inside a
/// character are moved back to the nearest character boundary.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ä\nöx", 5), (2, 2));
        assert_eq!(line_column("ä", 1), (1, 1), "inside a character");
        assert_eq!(line_column("ab", 99), (1, 3), "past the end");
    }
}
