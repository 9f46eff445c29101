//! Rendering: aligned tables for people, `--json` of the same core types for programs.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

/// Where command output goes, and in which form.
pub struct Output {
    json: bool,
    quiet: bool,
    color: bool,
    out: io::StdoutLock<'static>,
}

/// Whether to colour a stream: only a terminal, and never with `NO_COLOR` set
/// to anything but the empty string (<https://no-color.org>).
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The few styles the CLI uses.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Headers and totals.
    Bold,
    /// Checked-off items, hints.
    Dim,
    /// Errors.
    Red,
    /// Warnings.
    Yellow,
}

impl Style {
    /// `text` in this style (ANSI SGR) when `on`, else as it is.
    pub fn paint(self, on: bool, text: &str) -> String {
        if !on {
            return text.to_string();
        }
        let code = match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::Yellow => "33",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

impl Output {
    /// Output to stdout.
    pub fn new(json: bool, quiet: bool) -> Self {
        let stdout = io::stdout();
        Output {
            json,
            quiet,
            color: !json && use_color(stdout.is_terminal()),
            out: stdout.lock(),
        }
    }

    /// `text` in `style` when stdout is a terminal that takes colour.
    pub fn paint(&self, style: Style, text: &str) -> String {
        style.paint(self.color, text)
    }

    /// Print a line even with `-q` (what `-q` asks for, such as a new token).
    pub fn always(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
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
        let header = render(headers.clone());
        writeln!(self.out, "{}", Style::Bold.paint(self.color, &header))?;
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
