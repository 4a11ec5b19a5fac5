//! The `kurator` command line. This file parses arguments; `commands/` runs
//! each subcommand on the library and owns the process's concerns: printing,
//! exit codes and the async runtime. The library returns typed errors and
//! prints nothing.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use commands::GlobalOptions;
use commands::query::QueryFormat;
use kurator::render::Format;

/// feed-rs and html5ever allocate per element; mimalloc makes ingest about 25% faster
/// than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kurator",
    version,
    about = "Curated topic feeds from German municipal and e-government sources"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        short = 'c',
        long = "config",
        env = "KURATOR_CONFIG",
        default_value = "feeds.toml",
        global = true
    )]
    config: PathBuf,
    /// The SQLite database (overrides `[storage] path`).
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the configuration and the database path (migrating an
    /// older schema) and print a one-line summary; warn about rules that
    /// name unknown sources or tags.
    Check {
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Add a source: find the feed at URL (a page is followed to the feed it
    /// links to), show what it holds, and append a [[source]] to the config.
    Add {
        /// The feed's address, or a page that links to its feed.
        url: String,
        /// The source's id (default: from the host name, e.g. `kommune21`).
        #[arg(long)]
        id: Option<String>,
        /// The source's title (default: the feed's own).
        #[arg(long)]
        title: Option<String>,
        /// Tags for the source's items, separated by commas.
        #[arg(long, value_delimiter = ',', value_name = "TAG,...")]
        tags: Vec<String>,
        /// Do not fetch the address first; add it as given.
        #[arg(long)]
        no_fetch: bool,
    },
    /// Poll sources once and store their items.
    Fetch {
        /// Ignore Retry-After, 410 Gone and cached validators; re-read every body.
        #[arg(long)]
        force: bool,
        /// Only these sources (default: every enabled source).
        #[arg(value_name = "SOURCE_ID")]
        sources: Vec<String>,
    },
    /// Add a [[source]] for every feed of an OPML export (folders become
    /// tags); addresses already configured are skipped. Fetches nothing.
    Import {
        /// The OPML file, as a feed reader exports it.
        file: PathBuf,
    },
    /// Remove a source from the config; its stored items stay until pruned.
    Remove {
        /// The source's id.
        id: String,
    },
    /// List stored items that match a rule, newest first, without changing anything.
    Query {
        /// A rule in the topic language, e.g. '"smart city" OR digitalstadt*'.
        rule: String,
        /// Show at most this many items.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        /// `text` for people, `json` for a JSON Feed 1.1 document.
        #[arg(long, value_enum, default_value_t = QueryOutput::Text)]
        format: QueryOutput,
    },
    /// Write a topic feed (or `all`) to stdout.
    Render {
        /// A topic slug, or `all`.
        topic: String,
        #[arg(long, value_enum, default_value_t = FeedFormat::Atom)]
        format: FeedFormat,
        /// Entries in the feed (1 to 500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// Recompute every stored item's tags after topics or source tags changed.
    Retag,
    /// Show which topics an item matches (which terms hit in which field) and its story's other reports.
    Explain {
        /// The item's number (as `kurator query` and `explain` show it), its id or its link.
        item: String,
    },
    /// Fetch one source and print what Kurator reads from it (for an HTML
    /// source, what each selector finds), without touching the database.
    Preview {
        /// The source's id.
        source: String,
    },
    /// List recent stories that several sources reported, with their reports.
    Clusters {
        /// How far back, by each story's newest report.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
    /// Take a report out of its story for good: it gets its own entry and never
    /// rejoins; the story keeps its entry id.
    Split {
        /// The report's number or id (as `kurator clusters` and `explain` show them).
        item: String,
    },
    /// Merge the second report's story into the first's, which keeps its entry id.
    Join {
        /// A report of the story that stays.
        into: String,
        /// A report of the story that joins it.
        other: String,
    },
    /// Serve the topic feeds, search feeds, OPML and a front page over HTTP.
    Serve,
    /// The daemon: poll every source on its schedule and serve the feeds, until SIGTERM.
    Run,
    /// Per source: the last fetch's outcome and error, the next fetch, the items stored.
    Status {
        /// Write JSON (as `/sources.json` serves it) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete items older than `[storage] keep_days` (the daemon does this daily).
    Prune {
        /// Only say how many items would go.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a completion script for a shell, e.g. `kurator completions bash >
    /// /etc/bash_completion.d/kurator`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `kurator man | man -l -`; with a
    /// command, that command's page.
    Man {
        /// A command, e.g. `add`.
        command: Option<String>,
    },
    /// Write a consistent copy of the database to PATH (safe while the daemon runs).
    Backup {
        /// The new file; it must not exist yet.
        path: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum QueryOutput {
    Text,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FeedFormat {
    Rss,
    Atom,
    Json,
}

impl From<FeedFormat> for Format {
    fn from(format: FeedFormat) -> Format {
        match format {
            FeedFormat::Rss => Format::Rss,
            FeedFormat::Atom => Format::Atom,
            FeedFormat::Json => Format::Json,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs what it does; one-shot commands print their own report.
    let level = match cli.command {
        Command::Serve | Command::Run => "info",
        _ => "error",
    };
    commands::init_logging(level);
    let options = GlobalOptions {
        config: cli.config,
        db: cli.db,
    };
    match cli.command {
        Command::Check { strict } => commands::check::run(&options, strict),
        Command::Add {
            url,
            id,
            title,
            tags,
            no_fetch,
        } => commands::add::run(
            &options,
            &commands::add::AddOptions {
                url: &url,
                id: id.as_deref(),
                title: title.as_deref(),
                tags: &tags,
                no_fetch,
            },
        ),
        Command::Import { file } => commands::import::run(&options, &file),
        Command::Remove { id } => commands::remove::run(&options, &id),
        Command::Fetch { force, sources } => commands::fetch::run(&options, force, &sources),
        Command::Query {
            rule,
            limit,
            format,
        } => {
            let format = match format {
                QueryOutput::Text => QueryFormat::Text,
                QueryOutput::Json => QueryFormat::Json,
            };
            commands::query::run(&options, &rule, limit as usize, format)
        }
        Command::Render {
            topic,
            format,
            limit,
        } => commands::render::run(&options, &topic, format.into(), limit as usize),
        Command::Retag => commands::retag::run(&options),
        Command::Explain { item } => commands::explain::run(&options, &item),
        Command::Clusters { days } => commands::clusters::run(&options, days),
        Command::Split { item } => commands::correct::split(&options, &item),
        Command::Join { into, other } => commands::correct::join(&options, &into, &other),
        Command::Preview { source } => commands::preview::run(&options, &source),
        Command::Serve => commands::serve::run(&options),
        Command::Run => commands::run::run(&options),
        Command::Status { json } => commands::status::run(&options, json),
        Command::Prune { dry_run } => commands::prune::run(&options, dry_run),
        Command::Backup { path } => commands::backup::run(&options, &path),
        Command::Completions { shell } => commands::manual::completions(Cli::command(), shell),
        Command::Man { command } => commands::manual::man(Cli::command(), command.as_deref()),
    }
}
