//! `fluxbrain sim serve`: the in-process Kubernetes API simulator over HTTP, for kubectl, the
//! collector and benchmarks.
//!
//! It prints its URL on the first line of stdout, writes a kubeconfig when asked, moves the
//! simulated clock with the wall clock (so a `--script` plays out in real time) and runs until
//! interrupted (Ctrl-C / SIGINT). Exit codes: 0 after an interrupt, 1 when the server fails,
//! 2 for a bad state folder, script or kubeconfig path.

use std::error::Error as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fluxbrain_sim::{Config, Rbac, Script, Simulator, State};

/// `fluxbrain sim`: the Kubernetes API simulator.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SimCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SimCommand {
    /// Serve a simulated cluster over HTTP (kubectl and kube-rs work against it unchanged).
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the URL is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Cluster state folder: *.yaml objects, logs/<pod>.log; e.g. `examples/clusters/basic`
    /// of the repository. Without it the cluster is empty (only the default namespaces).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Script of timed steps (failures starting, repeating, recovering; faults), run in real time.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Write a kubeconfig for the simulator to this file.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// What the simulated clock reads at start (RFC 3339); default: the wall clock.
    #[arg(long)]
    now: Option<jiff::Timestamp>,
    /// Roles, ClusterRoles and their bindings (multi-document YAML, e.g. the output of
    /// `kubectl kustomize deploy/base`) to enforce on the kubeconfig's requests; needs `--as`.
    #[arg(long, requires = "subject")]
    rbac: Option<PathBuf>,
    /// The ServiceAccount (NAMESPACE/NAME) the kubeconfig's requests are authorized as.
    #[arg(
        long = "as",
        id = "subject",
        value_name = "NAMESPACE/SERVICEACCOUNT",
        requires = "rbac"
    )]
    subject: Option<String>,
}

/// Runs `fluxbrain sim <command>`; returns the exit code.
pub fn run(args: Args) -> ExitCode {
    match args.command {
        SimCommand::Serve(serve) => run_serve(serve),
    }
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let mut config = Config::default();
    if let Some(now) = args.now {
        config.start = now;
    }
    let state = match &args.state {
        Some(dir) => State::load_dir(dir),
        None => Ok(State::new()),
    };
    let script = args.script.as_ref().map(Script::from_file).transpose();
    let (state, script) = match (state, script) {
        (Ok(state), Ok(script)) => (state, script),
        (Err(err), _) | (_, Err(err)) => return fail(&err, 2),
    };
    let sim = match Simulator::new(state, config) {
        Ok(sim) => sim,
        Err(err) => return fail(&err, 2),
    };
    if let (Some(file), Some(subject)) = (&args.rbac, &args.subject) {
        match Rbac::from_file(file, subject) {
            Ok(rbac) => {
                eprintln!(
                    "fluxbrain sim: the kubeconfig's requests are authorized as {} by {}",
                    rbac.user(),
                    file.display()
                );
                sim.set_rbac(Some(rbac));
            }
            Err(err) => return fail(&err, 2),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match sim.serve(args.addr).await {
            Ok(server) => server,
            Err(err) => return fail(&err, 1),
        };
        if let Some(path) = &args.kubeconfig_out
            && let Err(err) = server.write_kubeconfig(path)
        {
            return fail(&err, 2);
        }
        println!("{}", server.url());
        if args.state.is_none() {
            eprintln!(
                "fluxbrain sim: serving an empty cluster (no --state; try --state examples/clusters/basic)"
            );
        }
        if let Some(path) = &args.kubeconfig_out {
            eprintln!("fluxbrain sim: kubeconfig written to {}", path.display());
        }
        if let Some(script) = script {
            eprintln!(
                "fluxbrain sim: running script {} ({} steps)",
                script.path().display(),
                script.len()
            );
            sim.run_script(script);
        }
        let clock = sim.drive_realtime(Duration::from_millis(200), |err| print_error(&err));
        let code = tokio::select! {
            interrupted = tokio::signal::ctrl_c() => match interrupted {
                Ok(()) => match server.shutdown().await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(err) => fail(&err, 1),
                },
                Err(err) => {
                    eprintln!("error: cannot listen for Ctrl-C: {err}");
                    ExitCode::FAILURE
                }
            },
        };
        clock.abort();
        code
    })
}

/// Prints the error with its causes, once.
fn print_error(err: &fluxbrain_sim::Error) {
    let mut line = format!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
}

fn fail(err: &fluxbrain_sim::Error, code: u8) -> ExitCode {
    print_error(err);
    ExitCode::from(code)
}
