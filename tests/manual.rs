//! `kurator completions SHELL` and `kurator man`: generated from the CLI
//! definition, so they know every command, including the newest.

use std::process::{Command, Output};

fn kurator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kurator"))
        .args(args)
        .output()
        .expect("the kurator binary runs")
}

fn stdout(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The bash script completes, in a real bash, `kurator imp` to `import`
/// and the options of `kurator add`.
#[test]
fn bash_completes_commands_and_options() {
    let script = stdout(&kurator(&["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kurator.bash");
    std::fs::write(&path, &script).unwrap();
    let complete = |words: &str| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _kurator kurator \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let output = Command::new("bash")
            .args(["-c", &program])
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(complete("kurator imp").trim(), "import");
    let options = complete("kurator add --");
    for option in ["--id", "--title", "--tags", "--no-fetch"] {
        assert!(
            options.lines().any(|l| l == option),
            "{option} missing:\n{options}"
        );
    }
    let shells = complete("kurator completions ''");
    assert!(shells.lines().any(|l| l == "zsh"), "{shells}");
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = stdout(&kurator(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef kurator"), "{zsh}");
    let fish = stdout(&kurator(&["completions", "fish"]));
    for command in ["add", "import", "remove", "preview", "man"] {
        assert!(zsh.contains(&format!("'{command}:")), "zsh lacks {command}");
        assert!(
            fish.contains(&format!("-a \"{command}\"")),
            "fish lacks {command}:\n{fish}"
        );
    }
}

#[test]
fn man_pages_for_kurator_and_each_command() {
    let page = stdout(&kurator(&["man"]));
    assert!(page.contains(".TH kurator 1"), "{page}");
    assert!(page.contains("kurator 0.1.0") || page.contains(env!("CARGO_PKG_VERSION")));
    for command in ["add", "import", "remove", "completions"] {
        assert!(
            page.contains(&format!("kurator\\-{command}(1)")),
            "{command} missing:\n{page}"
        );
    }
    let add = stdout(&kurator(&["man", "add"]));
    assert!(add.contains(".TH kurator-add 1"), "{add}");
    assert!(add.contains("\\fB\\-\\-no\\-fetch\\fR"), "{add}");

    let unknown = kurator(&["man", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no command `nope`; the commands are: check, add"),
        "{stderr}"
    );
}
