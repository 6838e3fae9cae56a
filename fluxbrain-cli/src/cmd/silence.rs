//! `fluxbrain silence add|list|expire`: hold back the notifications of matching incidents for
//! a while, against the state store or a running instance.

use std::process::ExitCode;

use fluxbrain_core::{Control, Silence, SilenceRequest, Time};

use super::target::{Target, TargetArgs, call, client};
use crate::error::CliError;
use crate::given::{Given, Problems};
use crate::operate;

/// Arguments of `fluxbrain silence`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
While a silence lasts, the incidents it matches open and resolve as usual but no firing, \
update or reminder is sent; an incident still open when it ends is announced then, once. \
The resolution of an incident that was announced before is sent, silenced or not.

Exit codes: 0 success; 1 no such silence, or the state or server could not be reached; \
2 a malformed request.")]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Add a silence.
    Add(AddArgs),
    /// List the silences (active, and those that ended in the last 7 days).
    List(ListArgs),
    /// End a silence now.
    Expire(ExpireArgs),
}

/// Arguments of `silence add`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  fluxbrain silence add --match namespace=shop --match kind=HelmRelease --for 2h \\
      --comment 'chart repository down, vendor ticket 4711'
  fluxbrain silence add --match cluster=prod-* --match reason=*Pull* --for 30m --comment 'registry outage'

Keys: cluster, namespace, kind, name, reason. Values are patterns: * matches any run of \
characters, ? one character, \\ takes the next character literally. An incident is silenced \
when every matcher matches.")]
struct AddArgs {
    /// KEY=VALUE (repeat; all must match).
    #[arg(long = "match", value_name = "KEY=VALUE", required = true)]
    matchers: Vec<String>,
    /// How long it lasts, e.g. 30m, 2h, 3d (at most a year).
    #[arg(long = "for", value_name = "DURATION")]
    duration: Option<String>,
    /// Why: shown in `silence list` and `status`.
    #[arg(long)]
    comment: String,
    /// Who (default: the OS user).
    #[arg(long)]
    author: Option<String>,
    /// Print the silence as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Arguments of `silence list`.
#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Arguments of `silence expire`.
#[derive(Debug, clap::Args)]
struct ExpireArgs {
    /// The silence's id (or a unique beginning of it).
    id: String,
    /// Who (default: the OS user).
    #[arg(long)]
    author: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs the command.
pub fn run(args: Args, given: Given<'_>) -> ExitCode {
    let result = match args.command {
        Sub::Add(add) => self::add(add, given),
        Sub::List(list) => self::list(list, given),
        Sub::Expire(expire) => self::expire(expire, given),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => e.report("silence"),
    }
}

fn author(given: Option<&str>, problems: &mut Problems<'_>) -> String {
    match given.map(str::to_owned).or_else(operate::default_author) {
        Some(author) if !author.trim().is_empty() => author,
        _ => {
            problems.add("author", "no author: give --author NAME (USER is not set)");
            String::new()
        }
    }
}

fn add(args: AddArgs, given: Given<'_>) -> Result<String, CliError> {
    let mut problems = Problems::new(given);
    let author = author(args.author.as_deref(), &mut problems);
    let target = args.target.resolve(&mut problems);
    problems.finish()?;
    let request = SilenceRequest {
        matchers: args.matchers,
        duration: args.duration,
        ends: None,
        comment: args.comment,
        author,
    };
    // Checked here first, so a malformed request is a usage error before anything is asked.
    let now = operate::now();
    Control::default().add_silence(&request, now)?;
    let runtime = super::runtime_or_error()?;
    let silence = runtime.block_on(async {
        match &target {
            Target::Server { base, token } => {
                let url = format!("{base}/v1/silences");
                let request = super::target::with_json(client("silence")?.post(&url), &request);
                call::<Silence>(request, &url, token.as_deref()).await
            }
            Target::Store(spec) => {
                let store = Target::store(spec).await?;
                operate::add_silence(store.as_ref(), &request, now).await
            }
        }
    })?;
    if args.json {
        return Ok(serde_json::to_string_pretty(&silence).unwrap_or_default() + "\n");
    }
    Ok(format!(
        "silence {} added: {} until {} ({})\n",
        silence.id,
        silence.matchers_text(),
        silence.ends,
        silence.comment
    ))
}

fn list(args: ListArgs, given: Given<'_>) -> Result<String, CliError> {
    let mut problems = Problems::new(given);
    let target = args.target.resolve(&mut problems);
    problems.finish()?;
    let runtime = super::runtime_or_error()?;
    let silences = runtime.block_on(async {
        match &target {
            Target::Server { base, token } => {
                let url = format!("{base}/v1/silences");
                let request = client("silence")?.get(&url);
                call::<Vec<Silence>>(request, &url, token.as_deref()).await
            }
            Target::Store(spec) => {
                let store = Target::store(spec).await?;
                operate::silences(store.as_ref()).await
            }
        }
    })?;
    if args.json {
        return Ok(serde_json::to_string_pretty(&silences).unwrap_or_default() + "\n");
    }
    Ok(silences_table(&silences, operate::now()))
}

fn expire(args: ExpireArgs, given: Given<'_>) -> Result<String, CliError> {
    let mut problems = Problems::new(given);
    let author = author(args.author.as_deref(), &mut problems);
    let target = args.target.resolve(&mut problems);
    problems.finish()?;
    let runtime = super::runtime_or_error()?;
    let silence = runtime.block_on(async {
        match &target {
            Target::Server { base, token } => {
                let url = format!("{base}/v1/silences/{}", args.id.trim());
                let request = super::target::with_json(
                    client("silence")?.delete(&url),
                    &super::ack::OperatorNote {
                        author: author.clone(),
                        comment: None,
                    },
                );
                call::<Silence>(request, &url, token.as_deref()).await
            }
            Target::Store(spec) => {
                let store = Target::store(spec).await?;
                operate::expire_silence(store.as_ref(), &args.id, &author, operate::now()).await
            }
        }
    })?;
    Ok(format!(
        "silence {} ended at {} ({})\n",
        silence.id,
        silence.ends,
        silence.matchers_text()
    ))
}

/// The silences as a table, active first.
pub fn silences_table(silences: &[Silence], now: Time) -> String {
    if silences.is_empty() {
        return "no silences\n".to_owned();
    }
    let mut sorted: Vec<&Silence> = silences.iter().collect();
    sorted.sort_by_key(|s| (!s.active(now), s.ends));
    let mut rows = vec![[
        "ID".to_owned(),
        "STATE".to_owned(),
        "MATCHES".to_owned(),
        "ENDS".to_owned(),
        "AUTHOR".to_owned(),
        "COMMENT".to_owned(),
    ]];
    for s in sorted {
        let state = match (&s.expired_by, s.active(now)) {
            (_, true) => "active".to_owned(),
            (Some(by), false) => format!("ended by {by}"),
            (None, false) => "ended".to_owned(),
        };
        rows.push([
            s.id.clone(),
            state,
            s.matchers_text(),
            s.ends.to_string(),
            s.author.clone(),
            s.comment.clone(),
        ]);
    }
    crate::summary::table(&rows)
}
