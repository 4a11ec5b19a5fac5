//! `kurator serve`: the topic feeds over HTTP until SIGINT or SIGTERM.

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::daemon::signals::Signals;
use kurator::serve::Server;

pub fn run(options: &GlobalOptions) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    // The server adds a thread with a runtime of its own per further core.
    let runtime = match super::start_runtime(&mut tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let db_path = resolve_db_path(&config, options.db.as_deref());
    runtime.block_on(async {
        let topics = config.topics.topics().len();
        let server = match Server::bind(config.serve_settings(), config, db_path).await {
            Ok(server) => server,
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let listen = server.local_addr();
        if !server.base_url_configured() && listen.ip().is_unspecified() {
            eprintln!(
                "warning: feeds will link to {}, which readers elsewhere cannot reach; \
                 set [server] base_url to the address they use",
                server.base_url()
            );
        }
        // Scripts and tests read this line to learn the address.
        eprintln!(
            "serving {topics} topic feed(s) on http://{}/ (links use {})",
            server.local_addr(),
            server.base_url()
        );
        match server.run(Signals::stop()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(EXIT_FAILED)
            }
        }
    })
}
