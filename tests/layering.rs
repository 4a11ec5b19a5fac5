//! The house keeps its layers: data flows one way through the modules, and
//! no module imports one above it. This reads every `crate::…` path in the
//! code of `src/` (comments and `#[cfg(test)]` modules aside: a test may
//! check how stages compose) and fails on any import against [`LAYERS`].
//! Every pair of modules is ranked, so there are no cycles between them and
//! no exceptions: an import against the order is fixed, not listed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module, lowest first: a module may import only modules
/// listed before it. Leaves first, then the pipeline's stages in the order
/// data flows through them, then what drives them and builds their settings.
const LAYERS: &[&str] = &[
    // Leaves every stage may use.
    "time",
    "text",
    "fold",
    "links",
    "redact",
    // The topic language, used by tagging, feeds and the config.
    "rules",
    // The pipeline, in the order data flows.
    "schedule",
    "fetch",
    "decode",
    "parse",
    // One configured source, as the stages take it (it holds parse's selectors).
    "source",
    "normalize",
    "identify",
    "dedup",
    "tag",
    "store",
    // What is made of the store.
    "render",
    "feeds",
    "metrics",
    "status",
    "serve",
    // Drives one source through the stages.
    "ingest",
    // Reads `feeds.toml` and builds every stage's settings.
    "config",
    // The daemon: the scheduler and the server in one process.
    "daemon",
];

/// The command line is the binary (`main.rs` and `commands/`), not part of
/// the library: it sits above every layer, and no library module can name it.
const BINARY: &[&str] = &["main", "commands"];

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Each library file's top-level module, path relative to `src/` and its
/// code lines (comments and `#[cfg(test)]` modules left out).
fn library_code() -> Vec<(String, String, Vec<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut library = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let module = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || BINARY.contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text
            .lines()
            .map(str::trim_start)
            .take_while(|code| !code.starts_with("#[cfg(test)]"))
            .filter(|code| !code.starts_with("//"))
            .map(str::to_owned)
            .collect();
        library.push((module, relative, code));
    }
    library
}

/// (from, to) → the files where `from` names `to`.
fn imports() -> BTreeMap<(String, String), BTreeSet<String>> {
    let path = regex::Regex::new(r"\bcrate::([a-z_][a-z0-9_]*)").unwrap();
    let mut found: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (module, relative, code) in library_code() {
        for code in &code {
            for capture in path.captures_iter(code) {
                let target = capture[1].to_owned();
                if target != module {
                    found
                        .entry((module.clone(), target))
                        .or_default()
                        .insert(relative.clone());
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_one_above_it() {
    let rank = |module: &str| LAYERS.iter().position(|m| *m == module);
    let found = imports();
    let mut unknown = BTreeSet::new();
    let mut upward = Vec::new();
    for ((from, to), files) in &found {
        let (Some(from_rank), Some(to_rank)) = (rank(from), rank(to)) else {
            unknown.extend(
                [from, to]
                    .into_iter()
                    .filter(|m| rank(m).is_none())
                    .cloned(),
            );
            continue;
        };
        if to_rank > from_rank {
            upward.push(format!("{from} imports {to} (in {files:?})"));
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS (declare where they sit): {unknown:?}"
    );
    assert!(
        upward.is_empty(),
        "imports against the layer order {LAYERS:?}:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_library_prints_nothing_and_owns_no_exit_codes() {
    // Printing, exit codes and leaving the process belong to the binary;
    // the library logs through `tracing` and returns typed errors.
    let process =
        regex::Regex::new(r"\b(e?print(ln)?!|ExitCode\b|process::exit|std::io::std(out|err)\(\))")
            .unwrap();
    let mut found = Vec::new();
    for (_, relative, code) in library_code() {
        for line in &code {
            if let Some(hit) = process.find(line) {
                found.push(format!("{relative}: {}", hit.as_str()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "process concerns in the library (move them to the CLI):\n{}",
        found.join("\n")
    );
    assert!(process.is_match("    eprintln!(\"{listening}\");"));
}

#[test]
fn the_check_sees_an_upward_import() {
    // The scanner itself: a file of `fetch` naming `crate::store` is found.
    let path = regex::Regex::new(r"\bcrate::([a-z_][a-z0-9_]*)").unwrap();
    let line = "use crate::store::StoreWriter;";
    let targets: Vec<&str> = path
        .captures_iter(line)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(targets, ["store"]);
    let rank = |module: &str| LAYERS.iter().position(|m| *m == module).unwrap();
    assert!(rank("store") > rank("fetch"));
}
