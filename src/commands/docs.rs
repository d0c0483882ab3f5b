//! `tenantctl completions SHELL` and `tenantctl man`: the shell completion scripts and the
//! man pages, generated from the clap definitions that also make `--help`, so the three
//! never disagree.

use std::path::Path;

use clap::CommandFactory;
use miette::{IntoDiagnostic, WrapErr};

use super::{print, Exit};
use crate::cli::Cli;
use crate::output_file::{self, Access};

/// The command tree, named as installed.
fn command() -> clap::Command {
    Cli::command().name("tenantctl").bin_name("tenantctl")
}

/// The completion script of `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut command(), "tenantctl", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

pub fn completions(shell: clap_complete::Shell) -> miette::Result<Exit> {
    print(&completion_script(shell), Exit::Success)?;
    Ok(Exit::Success)
}

/// The roff man page of `cmd`.
fn page(cmd: clap::Command) -> miette::Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .source(concat!("tenantctl ", env!("CARGO_PKG_VERSION")))
        .manual("tenantctl manual")
        .render(&mut buf)
        .into_diagnostic()
        .wrap_err("cannot render the man page")?;
    Ok(buf)
}

/// Every page: `tenantctl.1`, then one per command and subcommand (`tenantctl-token-list.1`),
/// with the file name each is written to.
pub fn pages() -> miette::Result<Vec<(String, Vec<u8>)>> {
    let mut root = command();
    root.build();
    let mut out = Vec::new();
    collect(&root, &mut out)?;
    Ok(out)
}

/// `cmd`'s page and its subcommands' (built: their display names are `tenantctl-plan`, …).
fn collect(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> miette::Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    out.push((format!("{name}.1"), page(cmd.clone())?));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        collect(sub, out)?;
    }
    Ok(())
}

/// `man`: `tenantctl.1` on stdout, or every page into `out`.
pub fn man(out: Option<&Path>) -> miette::Result<Exit> {
    let Some(dir) = out else {
        let root = page(command())?;
        print(&String::from_utf8_lossy(&root), Exit::Success)?;
        return Ok(Exit::Success);
    };
    std::fs::create_dir_all(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create `{}`", dir.display()))?;
    let pages = pages()?;
    for (name, text) in &pages {
        output_file::write(&dir.join(name), text, Access::AsBefore).into_diagnostic()?;
    }
    eprintln!("Wrote {} man page(s) to {}.", pages.len(), dir.display());
    Ok(Exit::Success)
}
