//! `kurator completions SHELL` and `kurator man [COMMAND]`: the shell
//! completion scripts and the manual pages, generated from the clap
//! definition in `main.rs`, so they list every command and option there is.

use std::io::Write as _;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED};

pub fn completions(mut command: clap::Command, shell: clap_complete::Shell) -> ExitCode {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "kurator", &mut out);
    write_out(&out)
}

pub fn man(mut command: clap::Command, subcommand: Option<&str>) -> ExitCode {
    let command = match subcommand {
        None => command,
        Some(name) => {
            command.build();
            let Some(found) = command.find_subcommand(name) else {
                let names: Vec<&str> = command
                    .get_subcommands()
                    .map(clap::Command::get_name)
                    .filter(|n| *n != "help")
                    .collect();
                eprintln!(
                    "no command `{name}`; the commands are: {}",
                    names.join(", ")
                );
                return ExitCode::from(EXIT_CONFIG);
            };
            // Built, a subcommand is named `kurator-add` and used as
            // `kurator add`: the page is kurator-add(1), as git names its own.
            found.clone().version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut out = Vec::new();
    let page =
        clap_mangen::Man::new(command).source(concat!("kurator ", env!("CARGO_PKG_VERSION")));
    if let Err(err) = page.render(&mut out) {
        eprintln!("cannot write the manual page: {err}");
        return ExitCode::from(EXIT_FAILED);
    }
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cannot write to stdout: {err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
