//! Config editing: adds and removes `[[source]]` blocks in the text of
//! `feeds.toml` for `kurator add`, `import` and `remove`, keeping every
//! comment and the layout of the rest of the file (`toml_edit`), and writes
//! the result so that a reader never sees half a file.
//!
//! The caller validates the edited text with [`super::Config::parse`] before
//! it writes it: an edit never leaves a config that `kurator check` refuses.

use std::io::Write as _;
use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
use url::Url;

/// A `[[source]]` block to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    pub id: String,
    pub title: Option<String>,
    pub url: String,
    pub tags: Vec<String>,
}

/// What went wrong editing the text (the file is not touched then).
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the config file is not valid TOML: {0}")]
    Syntax(String),
    #[error("`source` in the config file is not a list of [[source]] tables")]
    NotTables,
    #[error("no source `{0}` in the config file")]
    NoSuchSource(String),
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>()
        .map_err(|err| EditError::Syntax(err.message().trim().to_owned()))
}

/// `text` with a `[[source]]` block for each of `sources` after the last
/// source already there (or at the end), each after a blank line.
pub fn add_sources(text: &str, sources: &[NewSource]) -> Result<String, EditError> {
    let mut document = parse(text)?;
    let list = document
        .entry("source")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or(EditError::NotTables)?;
    for source in sources {
        let mut table = Table::new();
        table.decor_mut().set_prefix("\n");
        table["id"] = value(&source.id);
        if let Some(title) = &source.title {
            table["title"] = value(title);
        }
        table["url"] = value(&source.url);
        if !source.tags.is_empty() {
            table["tags"] = value(source.tags.iter().collect::<toml_edit::Array>());
        }
        list.push(table);
    }
    let mut edited = document.to_string();
    if !edited.ends_with('\n') {
        edited.push('\n');
    }
    Ok(edited)
}

/// A source as it was removed: what `kurator remove` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedSource {
    pub title: Option<String>,
    pub url: Option<String>,
}

/// `text` without the `[[source]]` block whose `id` is `id` (with its
/// `[source.select]` and the comment lines directly above its header).
/// Comments separated from the header by a blank line belong to what came
/// before, and stay.
pub fn remove_source(text: &str, id: &str) -> Result<(String, RemovedSource), EditError> {
    let mut document = parse(text)?;
    let list = document
        .get_mut("source")
        .ok_or_else(|| EditError::NoSuchSource(id.to_owned()))?
        .as_array_of_tables_mut()
        .ok_or(EditError::NotTables)?;
    let index = list
        .iter()
        .position(|table| table.get("id").and_then(Item::as_str) == Some(id))
        .ok_or_else(|| EditError::NoSuchSource(id.to_owned()))?;
    let removed = list.remove(index);
    let empty = list.is_empty();
    if empty {
        document.remove("source");
    }
    let string = |key: &str| removed.get(key).and_then(Item::as_str).map(str::to_owned);
    let gone = RemovedSource {
        title: string("title"),
        url: string("url"),
    };

    let prefix = removed
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let kept = kept_part_of_prefix(prefix);
    if !kept.trim().is_empty() {
        // The kept lines move to whatever now follows in the file.
        let last = last_position(&removed).unwrap_or(isize::MIN);
        match next_table_after(document.as_table_mut(), last) {
            Some(next) => {
                let old = next
                    .decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_owned();
                next.decor_mut().set_prefix(format!("{kept}{old}"));
            }
            None => {
                let old = document.trailing().as_str().unwrap_or("").to_owned();
                document.set_trailing(format!("{kept}{old}"));
            }
        }
    }
    Ok((document.to_string(), gone))
}

/// The lines of a header's leading decor up to and including its last blank
/// line: they are separated from the header, so they are not about it.
fn kept_part_of_prefix(prefix: &str) -> &str {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let Some(last_blank) = lines.iter().rposition(|line| line.trim().is_empty()) else {
        return "";
    };
    let end: usize = lines[..=last_blank].iter().map(|l| l.len()).sum();
    &prefix[..end]
}

/// The largest document position of `table` and the tables inside it.
fn last_position(table: &Table) -> Option<isize> {
    let mut last = table.position();
    for (_, item) in table.iter() {
        let inner = match item {
            Item::Table(inner) => last_position(inner),
            Item::ArrayOfTables(list) => list.iter().filter_map(last_position).max(),
            _ => None,
        };
        last = last.max(inner);
    }
    last
}

/// The table (anywhere in the document) with the smallest position after `after`.
fn next_table_after(root: &mut Table, after: isize) -> Option<&mut Table> {
    fn positions(table: &Table, out: &mut Vec<isize>) {
        for (_, item) in table.iter() {
            let inner: Vec<&Table> = match item {
                Item::Table(inner) => vec![inner],
                Item::ArrayOfTables(list) => list.iter().collect(),
                _ => Vec::new(),
            };
            for inner in inner {
                out.extend(inner.position());
                positions(inner, out);
            }
        }
    }
    fn find(table: &mut Table, wanted: isize) -> Option<&mut Table> {
        for (_, item) in table.iter_mut() {
            let inner: Vec<&mut Table> = match item {
                Item::Table(inner) => vec![inner],
                Item::ArrayOfTables(list) => list.iter_mut().collect(),
                _ => Vec::new(),
            };
            for inner in inner {
                if inner.position() == Some(wanted) {
                    return Some(inner);
                }
                if let Some(found) = find(inner, wanted) {
                    return Some(found);
                }
            }
        }
        None
    }
    let mut all = Vec::new();
    positions(root, &mut all);
    let next = all.into_iter().filter(|&p| p > after).min()?;
    find(root, next)
}

/// An id for a source at `url`: from its host without `www.` and the
/// top-level domain (`www.kommune21.de` → `kommune21`), else (no host, an
/// IP address or an internationalized name) from `title`; made unique with `-2`, `-3`, … where `taken` says it is.
pub fn derive_id(url: &Url, title: Option<&str>, taken: impl Fn(&str) -> bool) -> String {
    let host = url.host_str().unwrap_or("");
    let mut labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let numeric = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
    if labels.len() > 1 && !numeric {
        labels.pop();
    }
    while labels.len() > 1 && matches!(labels[0], "www" | "feeds" | "feed" | "rss") {
        labels.remove(0);
    }
    let mut base = slug(&labels.join("-"));
    // An internationalized name reads as `xn--…`: the title says it better.
    if base.is_empty() || numeric || labels.iter().any(|l| l.starts_with("xn--")) {
        base = title.map(slug).filter(|t| !t.is_empty()).unwrap_or(base);
    }
    if base.is_empty() {
        base = "source".to_owned();
    }
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken(candidate))
        .expect("some number is free")
}

/// `text` as an id: lower case `a-z0-9` and single dashes, umlauts spelt out.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let spelt = match c {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            _ => "",
        };
        if !spelt.is_empty() {
            out.push_str(spelt);
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(48);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Replaces `path` with `text` at once: written to a temporary file beside
/// it (with the old file's permissions and, where allowed, its owner and
/// group), synced, then renamed over it. A symbolic link is followed: the
/// file it points to is replaced, the link stays.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let temp = dir.join(format!(".{name}.kurator-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Ok(metadata) = std::fs::metadata(&target) {
            file.set_permissions(metadata.permissions())?;
            // root editing the daemon's file keeps it the daemon's; a user
            // who may not give the file away keeps it as their own.
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let _ =
                    std::os::unix::fs::fchown(&file, Some(metadata.uid()), Some(metadata.gid()));
            }
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, &target)?;
        // The rename is durable once the directory is synced.
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# Top comment\n[fetch]\ntimeout = \"30s\"   # whole fetch\n# user_agent = \"x\"\n\n\
# About a\n[[source]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n\n\
# About b\n[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\n[source.select]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a@href\"\n\n\
# Dedup settings\n[dedup]\nmode = \"exact\"\n";

    fn new(id: &str) -> NewSource {
        NewSource {
            id: id.into(),
            title: Some("Stadt Köln".into()),
            url: format!("https://{id}.example/rss"),
            tags: vec!["stadt".into(), "presse".into()],
        }
    }

    #[test]
    fn added_sources_follow_the_last_source_and_keep_every_comment() {
        let edited = add_sources(TEXT, &[new("c"), new("d")]).unwrap();
        let expected_block = "\n[[source]]\nid = \"c\"\ntitle = \"Stadt Köln\"\nurl = \"https://c.example/rss\"\ntags = [\"stadt\", \"presse\"]\n";
        let at = edited.find(expected_block).expect(&edited);
        assert!(at > edited.find("link = \"a@href\"").unwrap(), "{edited}");
        assert!(edited.find("id = \"d\"").unwrap() > at, "{edited}");
        assert!(
            edited.find("# Dedup settings").unwrap() > edited.find("id = \"d\"").unwrap(),
            "{edited}"
        );
        // The original text is all there, in order, around the new blocks.
        let without: String = edited.replace(expected_block, "").replace(
            "\n[[source]]\nid = \"d\"\ntitle = \"Stadt Köln\"\nurl = \"https://d.example/rss\"\ntags = [\"stadt\", \"presse\"]\n",
            "",
        );
        assert_eq!(without, TEXT);
    }

    #[test]
    fn a_file_without_sources_gets_its_first() {
        let edited =
            add_sources("# only a comment\n[fetch]\ntimeout = \"5s\"\n", &[new("a")]).unwrap();
        assert!(
            edited.starts_with(
                "# only a comment\n[fetch]\ntimeout = \"5s\"\n\n[[source]]\nid = \"a\"\n"
            ),
            "{edited}"
        );
    }

    #[test]
    fn removing_a_source_keeps_the_comments_that_are_not_its_own() {
        let (edited, gone) = remove_source(TEXT, "a").unwrap();
        assert_eq!(gone.url.as_deref(), Some("https://a.example/feed"));
        assert!(!edited.contains("id = \"a\""), "{edited}");
        assert!(!edited.contains("# About a"), "{edited}");
        for kept in [
            "# Top comment",
            "# whole fetch",
            "# user_agent = \"x\"",
            "# About b",
            "# Dedup settings",
        ] {
            assert!(edited.contains(kept), "{kept} lost:\n{edited}");
        }
        assert!(edited.find("# user_agent").unwrap() < edited.find("# About b").unwrap());

        let (edited, _) = remove_source(TEXT, "b").unwrap();
        assert!(
            !edited.contains("[source.select]") && !edited.contains("# About b"),
            "{edited}"
        );
        assert!(
            edited.contains("id = \"a\"") && edited.contains("# Dedup settings"),
            "{edited}"
        );

        assert!(matches!(
            remove_source(TEXT, "zz"),
            Err(EditError::NoSuchSource(_))
        ));
    }

    #[test]
    fn writing_replaces_the_file_behind_a_link_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("feeds.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, "new\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new\n");
        assert_eq!(
            std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn ids_come_from_the_host_and_are_unique() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            derive_id(&url("https://www.kommune21.de/feed"), None, |_| false),
            "kommune21"
        );
        assert_eq!(
            derive_id(
                &url("https://rathaus.stadt-köln.de/rss"),
                Some("Köln: Presse"),
                |_| false
            ),
            "koeln-presse"
        );
        assert_eq!(
            derive_id(&url("https://feeds.example.org/a"), None, |_| false),
            "example"
        );
        assert_eq!(
            derive_id(&url("https://www.kommune21.de/feed"), None, |id| id
                == "kommune21"),
            "kommune21-2"
        );
        assert_eq!(
            derive_id(&url("file:///tmp/x.xml"), Some("Stadt Köln"), |_| false),
            "stadt-koeln"
        );
        assert_eq!(
            derive_id(&url("http://127.0.0.1:8080/a"), Some("Presse"), |_| false),
            "presse"
        );
        assert_eq!(
            derive_id(&url("http://127.0.0.1:8080/a"), None, |_| false),
            "127-0-0-1"
        );
        assert_eq!(
            slug("  Behörden Spiegel: News!  "),
            "behoerden-spiegel-news"
        );
    }
}
