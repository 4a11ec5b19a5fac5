//! The keys `feeds.toml` accepts, per table, read from the loader's own
//! definitions: each table's fields are the ones serde's `deny_unknown_fields`
//! checks against, so this list cannot drift from what the loader refuses
//! (tests compare it with docs/configuration.md).

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::{RawConfig, RawDedup, RawFetch, RawSelect, RawServer, RawSource, RawStorage, RawTopic};

/// Every table of `feeds.toml` (as written in the file: `""` for the top
/// level, `[fetch]`, `[[source]]`, `[source.select]`, …) with the keys it
/// accepts, in the order the loader declares them.
pub fn known_keys() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("", fields_of::<RawConfig>()),
        ("[storage]", fields_of::<RawStorage>()),
        ("[fetch]", fields_of::<RawFetch>()),
        ("[server]", fields_of::<RawServer>()),
        ("[dedup]", fields_of::<RawDedup>()),
        ("[[source]]", fields_of::<RawSource>()),
        ("[source.select]", fields_of::<RawSelect>()),
        ("[[topic]]", fields_of::<RawTopic>()),
    ]
}

/// The field names a derived `Deserialize` passes to `deserialize_struct`
/// (after `rename`), caught by a deserializer that reads nothing else.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(FieldCatcher) {
        Err(Caught(Some(fields))) => fields,
        _ => unreachable!("a config table is a struct deriving Deserialize"),
    }
}

struct FieldCatcher;

#[derive(Debug)]
struct Caught(Option<&'static [&'static str]>);

impl std::fmt::Display for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a struct")
    }
}

impl std::error::Error for Caught {}

impl de::Error for Caught {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Caught(None)
    }
}

impl<'de> Deserializer<'de> for FieldCatcher {
    type Error = Caught;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Caught> {
        Err(Caught(None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Caught> {
        Err(Caught(Some(fields)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_renamed_fields_as_written_in_the_file() {
        let keys = known_keys();
        let table = |name| keys.iter().find(|(t, _)| *t == name).unwrap().1;
        assert_eq!(
            table(""),
            ["storage", "fetch", "source", "topic", "server", "dedup"]
        );
        assert!(table("[[topic]]").contains(&"match"));
        assert!(table("[[source]]").contains(&"select"));
        assert!(table("[fetch]").contains(&"host_delay"));
    }
}
