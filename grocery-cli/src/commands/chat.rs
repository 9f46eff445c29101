//! `grocery chat`: an interactive session with the agent.

use std::io::{BufRead, IsTerminal};

use grocery_core::Grocery;
use rustyline::error::ReadlineError;

use crate::error::CliError;
use crate::output::{Output, Style};

/// Talk to the agent line by line; "it", "that" and "undo" refer to earlier
/// lines. Line editing and history (kept in the data directory) on a terminal;
/// otherwise one request per stdin line. Ends with Ctrl-D, "quit" or "exit".
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conversation to continue (shared with `grocery ask --session`).
    #[arg(long, value_name = "NAME", default_value = "default")]
    session: String,
    /// The list to use when a request names none (default: the current list).
    #[arg(long, value_name = "NAME")]
    list: Option<String>,
}

/// What to do with one line.
enum Line<'a> {
    Skip,
    Quit,
    Ask(&'a str),
}

fn classify(line: &str) -> Line<'_> {
    let t = line.trim();
    match t.to_ascii_lowercase().as_str() {
        "" => Line::Skip,
        "quit" | "exit" | "/quit" | "/exit" => Line::Quit,
        _ => Line::Ask(t),
    }
}

impl Args {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let list = super::ask::list_or_current(grocery, self.list.clone()).await?;
        if std::io::stdin().is_terminal() && !out.is_json() {
            return self.interactive(grocery, list.as_deref(), out).await;
        }
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            match classify(&line) {
                Line::Skip => continue,
                Line::Quit => break,
                Line::Ask(text) => self.ask(grocery, text, list.as_deref(), out).await?,
            }
        }
        Ok(())
    }

    /// Answer one line. An error is reported and the conversation goes on,
    /// except a failure to write the output.
    async fn ask(
        &self,
        grocery: &Grocery,
        text: &str,
        list: Option<&str>,
        out: &mut Output,
    ) -> Result<(), CliError> {
        match grocery.agent().handle_in(&self.session, text, list).await {
            Ok(reply) if out.is_json() => Ok(out.json_line(&reply)?),
            Ok(reply) => {
                super::ask::render(&reply, out)?;
                Ok(out.line("")?)
            }
            Err(e) if out.is_json() => Ok(out.json_line(&serde_json::json!({
                "error": { "kind": e.kind().code(), "message": e.to_string() }
            }))?),
            Err(e) => {
                crate::error::print(&CliError::from(e));
                Ok(())
            }
        }
    }

    async fn interactive(
        &self,
        grocery: &Grocery,
        list: Option<&str>,
        out: &mut Output,
    ) -> Result<(), CliError> {
        let mut editor = rustyline::DefaultEditor::new().map_err(readline)?;
        let history = directories::ProjectDirs::from("", "", "grocery")
            .map(|d| d.data_dir().join("chat_history.txt"));
        if let Some(h) = &history {
            // No history yet is fine.
            let _ = editor.load_history(h);
        }
        out.line(&out.paint(
            Style::Dim,
            "Tell me what you need (\"add milk and eggs\"); Ctrl-D or \"quit\" ends.",
        ))?;
        loop {
            match editor.readline("> ") {
                Ok(line) => match classify(&line) {
                    Line::Skip => {}
                    Line::Quit => break,
                    Line::Ask(text) => {
                        let _ = editor.add_history_entry(text);
                        self.ask(grocery, text, list, out).await?;
                    }
                },
                // Ctrl-C drops the line being typed, as in a shell.
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(readline(e)),
            }
        }
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = editor.save_history(h) {
                tracing::warn!(error = %e, "could not save the chat history");
            }
        }
        Ok(())
    }
}

fn readline(e: ReadlineError) -> CliError {
    match e {
        ReadlineError::Io(io) => CliError::Io(io),
        other => CliError::Io(std::io::Error::other(other)),
    }
}
