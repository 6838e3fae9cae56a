//! The `fluxbrain run` process of a run: started with the run's settings and, until it fires,
//! the armed crash point; restarted at once when it dies at that point (as a Deployment's
//! pod would be), any other death is the run's failure.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// SIGABRT: what `std::process::abort` dies of.
const ABORTED: i32 = 6;
/// SIGTERM.
const TERMINATED: i32 = 15;

pub struct Fluxbrain {
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    /// `NAME:HIT` until the point fires.
    armed: Option<String>,
    /// The crash points that fired, in order.
    pub crashes: Vec<String>,
}

impl Fluxbrain {
    pub fn new(env: Vec<(String, String)>, log: PathBuf, armed: String) -> Fluxbrain {
        Fluxbrain {
            env,
            log,
            child: None,
            armed: Some(armed),
            crashes: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluxbrain"));
        cmd.arg("run")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (key, _) in std::env::vars() {
            if key.starts_with("FLUXBRAIN_") || key == "KUBECONFIG" {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(point) = &self.armed {
            cmd.env("FLUXBRAIN_CRASH_AT", point);
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    /// The deliveries it logged as timed out, over all its lives.
    pub fn timed_out(&self) -> crate::oracle::TimedOut {
        crate::oracle::TimedOut::from_log(&self.log_text())
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// A death by the armed crash point is recorded (and the point disarmed); another death
    /// is an error.
    fn died(&mut self, status: ExitStatus) -> Result<(), String> {
        self.child = None;
        let fired = self.armed.as_ref().and_then(|armed| {
            let name = armed.split(':').next().unwrap_or_default();
            let line = format!("fluxbrain: crash point {name} reached");
            (status.signal() == Some(ABORTED) && self.log_text().contains(&line))
                .then(|| name.to_owned())
        });
        match fired {
            Some(name) => {
                self.crashes.push(name);
                self.armed = None;
                Ok(())
            }
            None => Err(format!(
                "fluxbrain died unexpectedly ({status}); its log is {}",
                self.log.display()
            )),
        }
    }

    /// Restarts fluxbrain if it died at its crash point.
    pub fn check(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            self.start();
            return Ok(());
        };
        if let Some(status) = child.try_wait().unwrap() {
            self.died(status)?;
            self.start();
        }
        Ok(())
    }

    /// SIGTERM, then waits for the exit: `Ok(true)` for a clean exit 0, `Ok(false)` for a
    /// death at the crash point (shutdown's own points).
    pub async fn stop(&mut self) -> Result<bool, String> {
        let Some(child) = self.child.as_mut() else {
            return Ok(false);
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                // Exit 0; or, asked to stop before its signal handler was installed, killed
                // by the SIGTERM itself: stopped either way.
                if status.success() || status.signal() == Some(TERMINATED) {
                    self.child = None;
                    return Ok(true);
                }
                return self.died(status).map(|()| false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        Err(format!(
            "fluxbrain did not stop within 30 s of SIGTERM; its log is {}",
            self.log.display()
        ))
    }
}

impl Drop for Fluxbrain {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
