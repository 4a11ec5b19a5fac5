//! The documentation keeps up with the code: every key `feeds.toml` accepts
//! is described in docs/configuration.md, every subcommand of the binary has
//! a row in the README's command table, and the links between the README and
//! the pages in docs/ lead somewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A Markdown file's lines outside fenced code blocks (a `# comment` in a
/// shell example is not a heading).
fn prose_lines(text: &str) -> Vec<&str> {
    let mut in_fence = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
                return false;
            }
            !in_fence
        })
        .collect()
}

/// A heading's level and text, if the line is one.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    (level > 0 && line[level..].starts_with(' ')).then(|| (level, line[level..].trim()))
}

/// The lines of the section whose heading contains `needle`, up to the next
/// heading of the same or a higher level.
fn section<'a>(lines: &[&'a str], needle: &str) -> Option<Vec<&'a str>> {
    let start = lines
        .iter()
        .position(|line| heading(line).is_some_and(|(_, text)| text.contains(needle)))?;
    let (level, _) = heading(lines[start])?;
    Some(
        lines[start + 1..]
            .iter()
            .take_while(|line| heading(line).is_none_or(|(l, _)| l > level))
            .copied()
            .collect(),
    )
}

/// The first cell of each table row, without its backticks.
fn first_cells<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .filter_map(|line| line.trim().strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .map(|cell| cell.trim().trim_matches('`'))
        .collect()
}

/// Every key in `known_keys` that docs/configuration.md does not describe
/// (as a row of its table's key table), as `TABLE KEY`.
fn undocumented_keys(doc: &str) -> Vec<String> {
    let lines = prose_lines(doc);
    let mut missing = Vec::new();
    for (table, keys) in kurator::config::known_keys() {
        if table.is_empty() {
            // Top-level keys are the tables themselves: each needs a section.
            for key in keys {
                let documented = [format!("`[{key}]`"), format!("`[[{key}]]`")]
                    .iter()
                    .any(|needle| section(&lines, needle).is_some());
                if !documented {
                    missing.push(format!("[{key}] (a section of its own)"));
                }
            }
            continue;
        }
        let Some(body) = section(&lines, &format!("`{table}`")) else {
            missing.extend(
                keys.iter()
                    .map(|key| format!("{table} {key} (no section for {table})")),
            );
            continue;
        };
        let cells = first_cells(&body);
        // A sub-table is a row of its parent's table: `[source.select]`.
        let parent = table.trim_matches(|c| c == '[' || c == ']');
        for key in keys {
            let sub_table = format!("[{parent}.{key}]");
            if !cells.iter().any(|cell| cell == key || *cell == sub_table) {
                missing.push(format!("{table} {key}"));
            }
        }
    }
    missing
}

#[test]
fn every_config_key_is_in_the_configuration_page() {
    let path = root().join("docs/configuration.md");
    let missing = undocumented_keys(&read(&path));
    assert!(
        missing.is_empty(),
        "{} does not describe these keys the config loader accepts: {missing:?}; \
         add a row to the table of their section",
        path.display()
    );
}

#[test]
fn a_key_missing_from_the_page_is_caught() {
    // The check above must be able to fail: drop one row and it names the key.
    let doc = read(&root().join("docs/configuration.md"));
    let without_host_delay: String = doc
        .lines()
        .filter(|line| !line.starts_with("| `host_delay`"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(
        doc.len(),
        without_host_delay.len(),
        "the page has no `host_delay` row"
    );
    assert_eq!(
        undocumented_keys(&without_host_delay),
        ["[fetch] host_delay"]
    );
}

/// The subcommands `kurator --help` lists (but for clap's own `help`).
fn subcommands() -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_kurator"))
        .arg("--help")
        .env_remove("KURATOR_CONFIG")
        .output()
        .expect("run kurator --help");
    assert!(output.status.success(), "kurator --help failed: {output:?}");
    let help = String::from_utf8(output.stdout).expect("--help prints UTF-8");
    let commands: Vec<String> = help
        .lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(
        commands.len() >= 5,
        "could not read the Commands section of kurator --help:\n{help}"
    );
    commands
}

/// The subcommands the README's tables have no row for: a row starts with
/// `` `kurator NAME`` followed by a space or the closing backtick.
fn missing_from_readme(readme: &str, commands: &[String]) -> Vec<String> {
    let cells = first_cells(&prose_lines(readme));
    commands
        .iter()
        .filter(|name| {
            let start = format!("kurator {name}");
            !cells.iter().any(|cell| {
                cell.strip_prefix(&start)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
            })
        })
        .cloned()
        .collect()
}

#[test]
fn every_subcommand_is_in_the_readme() {
    let commands = subcommands();
    let missing = missing_from_readme(&read(&root().join("README.md")), &commands);
    assert!(
        missing.is_empty(),
        "README.md has no row in its command table for: {missing:?} (kurator --help lists {commands:?})"
    );
}

#[test]
fn a_subcommand_missing_from_the_readme_is_caught() {
    let readme = read(&root().join("README.md"));
    let without_prune: String = readme
        .lines()
        .filter(|line| !line.starts_with("| `kurator prune"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(
        readme.len(),
        without_prune.len(),
        "the README has no `kurator prune` row"
    );
    assert_eq!(
        missing_from_readme(&without_prune, &subcommands()),
        ["prune"]
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The targets of inline links `[text](target)` in a file's prose.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    targets
}

#[test]
fn links_between_the_pages_lead_somewhere() {
    let mut pages: Vec<PathBuf> = vec![root().join("README.md"), root().join("systemd/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("read docs/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 7, "docs/ holds too few pages: {docs:?}");
    pages.extend(docs);

    let mut broken = BTreeSet::new();
    for page in &pages {
        for target in link_targets(&read(page)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() {
                page.clone()
            } else {
                page.parent().expect("a page is in a folder").join(file)
            };
            if !file.exists() {
                broken.insert(format!("{}: {target} (no such file)", page.display()));
                continue;
            }
            if fragment.is_empty() {
                continue;
            }
            let anchors: BTreeSet<String> = prose_lines(&read(&file))
                .iter()
                .filter_map(|line| heading(line))
                .map(|(_, text)| anchor(text))
                .collect();
            if !anchors.contains(fragment) {
                broken.insert(format!("{}: {target} (no such heading)", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}
