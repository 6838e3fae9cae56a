//! What the user gave a command, so that every problem names the flag or the variable its
//! value came from, and every problem of a command is reported at once.

use std::fmt::Display;

use clap::parser::ValueSource;

use crate::error::CliError;

/// A command's definition and its parsed arguments.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    command: &'a clap::Command,
    matches: &'a clap::ArgMatches,
}

impl<'a> Given<'a> {
    /// The (sub)command `command` as parsed into `matches`.
    pub fn new(command: &'a clap::Command, matches: &'a clap::ArgMatches) -> Self {
        Given { command, matches }
    }

    /// What the user set for argument `id`: its variable when the value came from the
    /// environment, else its flag (`--name`).
    pub fn name(&self, id: &str) -> String {
        let arg = self.command.get_arguments().find(|a| a.get_id() == id);
        let flag = arg.and_then(|a| a.get_long()).map(|l| format!("--{l}"));
        let variable = arg
            .and_then(|a| a.get_env())
            .map(|v| v.to_string_lossy().into_owned());
        let from_env = matches!(
            self.matches
                .try_get_raw(id)
                .ok()
                .flatten()
                .and(self.matches.value_source(id)),
            Some(ValueSource::EnvVariable)
        );
        let name = if from_env {
            variable.or(flag)
        } else {
            flag.or(variable)
        };
        name.unwrap_or_else(|| id.to_owned())
    }

    /// Whether `id` was set on the command line or in the environment (not defaulted).
    pub fn is_set(&self, id: &str) -> bool {
        matches!(
            self.matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    }
}

/// Every problem found in a command's settings, each named after its source.
#[derive(Debug)]
pub struct Problems<'a> {
    given: Given<'a>,
    found: Vec<CliError>,
}

impl<'a> Problems<'a> {
    /// None yet.
    pub fn new(given: Given<'a>) -> Self {
        Problems {
            given,
            found: Vec::new(),
        }
    }

    /// `raw` (the value of argument `id`, if any) parsed by `parse`; a problem naming the flag
    /// or variable otherwise.
    pub fn parse<T, E: Display>(
        &mut self,
        id: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = raw?;
        match parse(raw) {
            Ok(value) => Some(value),
            Err(e) => {
                self.add(id, e);
                None
            }
        }
    }

    /// A problem with argument `id`.
    pub fn add(&mut self, id: &str, problem: impl Display) {
        self.found.push(CliError::Setting {
            name: self.given.name(id),
            problem: problem.to_string(),
        });
    }

    /// Any other problem.
    pub fn push(&mut self, problem: CliError) {
        self.found.push(problem);
    }

    /// The arguments, for [`Given::name`].
    pub fn given(&self) -> Given<'a> {
        self.given
    }

    /// `Ok` when nothing was found, else every problem in one error.
    pub fn finish(self) -> Result<(), CliError> {
        CliError::all(self.found)
    }
}
