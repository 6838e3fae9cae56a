//! A run's plan, drawn from its seed: the store, the crash point, the delivery concurrency and
//! the failure cycles of the cluster's objects, in the order they are driven.

use fluxbrain_core::crash;

/// How many Kustomizations the cluster holds (more than Slack's summary threshold of 10).
pub const OBJECTS: usize = 12;

/// The name of object `i`.
pub fn name(i: usize) -> String {
    format!("k{i:02}")
}

/// Where the state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `file:` (no Lease).
    File,
    /// `configmap:` in the simulated cluster, under a Lease.
    ConfigMap,
}

/// One step, driven through the API; the next starts once fluxbrain's saved state shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// These objects turn Ready=False.
    Fail(Vec<usize>),
    /// These objects turn Ready=True.
    Recover(Vec<usize>),
    /// Nothing changes for this many milliseconds (reminders fall due).
    Hold(u64),
    /// fluxbrain is asked to stop (SIGTERM) and started again, as a rolling update does.
    Restart,
}

/// What one seed runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub store: Store,
    /// The armed crash point and the hit that aborts.
    pub crash: (&'static str, u64),
    pub concurrency: usize,
    pub steps: Vec<Step>,
}

impl Plan {
    /// The plan of `seed`.
    pub fn of(seed: u64) -> Plan {
        let mut rng = fastrand::Rng::with_seed(seed);
        let point = crash::POINTS[rng.usize(..crash::POINTS.len())];
        let store = match point {
            crash::STATE_FILE_MID_SAVE => Store::File,
            crash::STATE_CONFIGMAP_MID_SAVE | crash::LEASE_MID_RENEW => Store::ConfigMap,
            _ if rng.bool() => Store::File,
            _ => Store::ConfigMap,
        };
        let hit = rng.u64(1..=3);
        let concurrency = if rng.bool() { 1 } else { 4 };
        // A cluster-wide outage (more firings at once than Slack lists one by one) whenever the
        // crash point is the batch's, else now and then.
        let outage = point == crash::DELIVER_BATCH_AFTER_ACCEPT || rng.u8(..10) < 3;
        let mut steps = Vec::new();
        if outage {
            steps.push(Step::Fail((0..OBJECTS).collect()));
            steps.push(Step::Hold(rng.u64(0..2500)));
            steps.push(Step::Recover((0..OBJECTS).collect()));
        }
        // Two or three objects fail and recover twice each, their cycles interleaved.
        let mut objects: Vec<usize> = (0..OBJECTS).collect();
        rng.shuffle(&mut objects);
        objects.truncate(rng.usize(2..=3));
        let mut pending: Vec<(usize, u8)> = objects.iter().map(|&o| (o, 0)).collect();
        while !pending.is_empty() {
            let i = rng.usize(..pending.len());
            let (object, done) = pending[i];
            steps.push(if done % 2 == 0 {
                Step::Fail(vec![object])
            } else {
                Step::Recover(vec![object])
            });
            if rng.u8(..4) == 0 {
                steps.push(Step::Hold(rng.u64(500..3000)));
            }
            if done == 3 {
                pending.swap_remove(i);
            } else {
                pending[i].1 += 1;
            }
        }
        // Shutdown's crash points are reached by a stop in the middle of the run.
        if matches!(
            point,
            crash::SHUTDOWN_BEFORE_SAVE | crash::SHUTDOWN_BEFORE_RELEASE
        ) || rng.u8(..5) == 0
        {
            let at = rng.usize(1..steps.len());
            steps.insert(at, Step::Restart);
        }
        Plan {
            seed,
            store,
            crash: (point, hit),
            concurrency,
            steps,
        }
    }

    /// How many times each object fails in this plan.
    pub fn cycles(&self) -> [u32; OBJECTS] {
        let mut cycles = [0; OBJECTS];
        for step in &self.steps {
            if let Step::Fail(objects) = step {
                for &o in objects {
                    cycles[o] += 1;
                }
            }
        }
        cycles
    }

    /// How many steps fail more than Slack's threshold of objects at once.
    pub fn outages(&self) -> u32 {
        let outages = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Fail(o) if o.len() > 10))
            .count();
        u32::try_from(outages).unwrap_or(u32::MAX)
    }
}

#[test]
fn plans_are_a_function_of_the_seed_and_cycle_every_object_they_fail() {
    for seed in 0..200 {
        let plan = Plan::of(seed);
        assert_eq!(format!("{plan:?}"), format!("{:?}", Plan::of(seed)));
        // Every object that fails recovers, in order.
        let mut failing = [false; OBJECTS];
        for step in &plan.steps {
            match step {
                Step::Fail(o) => o.iter().for_each(|&o| {
                    assert!(!failing[o], "seed {seed}: {o} fails twice");
                    failing[o] = true;
                }),
                Step::Recover(o) => o.iter().for_each(|&o| {
                    assert!(failing[o], "seed {seed}: {o} recovers unfailed");
                    failing[o] = false;
                }),
                Step::Hold(_) | Step::Restart => {}
            }
        }
        assert_eq!(failing, [false; OBJECTS], "seed {seed}");
        if plan.crash.0 == crash::DELIVER_BATCH_AFTER_ACCEPT {
            assert_eq!(plan.outages(), 1);
        }
    }
}
