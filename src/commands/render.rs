//! `kurator render`: writes a topic feed (or `all`) to stdout.

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::feeds;
use kurator::render::Format;
use kurator::store::Store;

pub fn run(options: &GlobalOptions, slug: &str, format: Format, limit: usize) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if !feeds::is_feed(&config, slug) {
        eprintln!(
            "no topic `{slug}`; valid: {}",
            feeds::feed_slugs(&config).join(", ")
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let result = Store::open_reader(&resolve_db_path(&config, options.db.as_deref()))
        .and_then(|store| feeds::topic_feed(&store, &config, slug, format, limit));
    match result {
        Ok(feeds::RenderedFeed { bytes, .. }) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(EXIT_FAILED);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
