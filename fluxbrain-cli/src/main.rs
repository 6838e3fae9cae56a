//! `fluxbrain`: senses FluxCD failures and reports them as errorbrain v1 events.

fn main() -> std::process::ExitCode {
    fluxbrain_cli::run()
}
