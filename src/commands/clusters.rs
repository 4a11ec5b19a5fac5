//! `kurator clusters`: recent stories that several sources reported.

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::{Config, resolve_db_path};
use kurator::store::{Store, StoredItem};
use kurator::time::{format_time, unix_now};

pub fn run(options: &GlobalOptions, days: u32) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let listed =
        Store::open_reader(&resolve_db_path(&config, options.db.as_deref())).and_then(|store| {
            let since = unix_now() - i64::from(days) * 86_400;
            let clusters = store.recent_clusters(since)?;
            let mut reasons = Vec::new();
            for (_, members) in &clusters {
                for member in members {
                    reasons.push(store.cluster_reason(member.id)?);
                }
            }
            Ok((clusters, reasons))
        });
    let (clusters, reasons) = match listed {
        Ok(listed) => listed,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    if clusters.is_empty() {
        println!("no story was reported by several sources in the last {days} day(s)");
        return ExitCode::SUCCESS;
    }
    let mut reasons = reasons.into_iter();
    for (cluster, members) in &clusters {
        print!("{}", describe(&config, *cluster, members, &mut reasons));
    }
    println!(
        "{} stories with several reports in the last {days} day(s); `kurator explain ITEM` shows how alike the reports are",
        clusters.len()
    );
    ExitCode::SUCCESS
}

fn describe(
    config: &Config,
    cluster: i64,
    members: &[StoredItem],
    reasons: &mut impl Iterator<Item = Option<(String, f64)>>,
) -> String {
    let newest = members.iter().map(|m| m.published).max().unwrap_or(0);
    // The id readers know the story by (what `split`, `join` and `explain`
    // also take).
    let entry = kurator::store::story_entry_id(cluster, members);
    let mut out = format!(
        "cluster {cluster} (entry {entry}): {} reports, newest {}\n",
        members.len(),
        format_time(newest)
    );
    for member in members {
        let why = match reasons.next().flatten() {
            Some((reason, score)) if reason == "text" => format!("text {score:.2}"),
            Some((reason, _)) => reason,
            None => "first".to_owned(),
        };
        let source = config
            .source(&member.source_id)
            .map_or(member.source_id.as_str(), |s| s.title.as_str());
        out.push_str(&format!(
            "  item {:<6} {:<9} {}  {}: „{}“\n",
            member.id,
            why,
            format_time(member.published),
            source,
            member.title
        ));
    }
    out
}
