//! `sockcheck completions SHELL` and `sockcheck man`: shell completions and man pages generated
//! from the clap definitions of [`Cli`], so they never drift from the real arguments.
//!
//! Packagers install them the usual way:
//!
//! ```sh
//! sockcheck completions bash > /usr/share/bash-completion/completions/sockcheck
//! sockcheck completions zsh  > /usr/share/zsh/site-functions/_sockcheck
//! sockcheck completions fish > /usr/share/fish/vendor_completions.d/sockcheck.fish
//! sockcheck man --dir /usr/share/man/man1      # sockcheck.1, sockcheck-check.1, ...
//! sockcheck man | man -l -                     # read the top-level page without installing it
//! ```

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::Result;

/// `sockcheck completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for: bash, zsh, fish, elvish or powershell
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// `sockcheck man` (hidden: it is for packagers, not for checking servers).
#[derive(Args)]
pub struct ManArgs {
    /// Write one page per subcommand (sockcheck.1, sockcheck-check.1, ...) into DIR instead of
    /// the top-level page to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `sockcheck completions SHELL`: the completion script on stdout.
pub fn completions(args: CompletionsArgs) -> Result<bool> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "sockcheck", &mut script);
    write_stdout(&script)
}

/// `sockcheck man [--dir DIR]`: the roff man page of `sockcheck` on stdout, or every page in DIR.
pub fn man(args: ManArgs) -> Result<bool> {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(Cli::command(), &dir)?;
            Ok(true)
        }
        None => write_stdout(&man_page()?),
    }
}

/// The top-level man page (section 1) in roff.
pub fn man_page() -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    Ok(page)
}

/// A reader that closes the pipe early (`sockcheck completions bash | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<bool> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(true),
    }
}
