//! Rendering: aligned tables for people, `--json` of the same core types for programs.

use std::io::{self, Write};

use serde::Serialize;

/// Where command output goes, and in which form.
pub struct Output {
    json: bool,
    quiet: bool,
    out: io::StdoutLock<'static>,
}

impl Output {
    /// Output to stdout.
    pub fn new(json: bool, quiet: bool) -> Self {
        Output {
            json,
            quiet,
            out: io::stdout().lock(),
        }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Print a value as pretty JSON.
    pub fn json<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value)?;
        writeln!(self.out)
    }

    /// Print a value as one line of JSON (JSON Lines).
    pub fn json_line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        writeln!(self.out)
    }

    /// Print a line of text (suppressed by `-q`).
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        writeln!(self.out, "{text}")
    }

    /// Print a table: a header row and aligned columns. Columns whose header
    /// starts with '>' are right-aligned (the '>' is not printed).
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
        let right: Vec<bool> = headers.iter().map(|h| h.starts_with('>')).collect();
        let headers: Vec<&str> = headers.iter().map(|h| h.trim_start_matches('>')).collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let render = |cells: Vec<&str>| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&right)
                .map(|((c, w), r)| {
                    if *r {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        writeln!(self.out, "{}", render(headers.clone()))?;
        for row in rows {
            writeln!(
                self.out,
                "{}",
                render(row.iter().map(String::as_str).collect())
            )?;
        }
        Ok(())
    }
}
