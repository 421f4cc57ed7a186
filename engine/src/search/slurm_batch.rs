//! Trainings on a Slurm cluster as job arrays of `rewardsmith eval-candidate`
//! tasks on specs in the run folder, for the `SlurmExecutor`.
//! The run folder must be on a filesystem the nodes share; results come back
//! through it.
//!
//! A task the cluster lost (node or boot failure, preemption, cancellation,
//! or gone from the queue without a result) is submitted again, up to
//! `max_resubmits` times; a task that failed (`FAILED`, `TIMEOUT`,
//! `OUT_OF_MEMORY`) is a failed candidate whose reason and log tail reach the
//! next prompt. The job ids are kept in the batch's folder, so `resume`
//! watches jobs still queued or running instead of submitting them again.
//! Time limits not set by the user are estimated here from measured rates.

use super::candidate::{CandidateSpec, Outcome};
use super::slurm::{self, ArrayTask, SlurmOptions, TaskState};
use super::store::{RunStore, read_json, write_json};
use crate::progress::RunProgress;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Lines of a failed task's log that go into the next prompt.
const LOG_LINES: usize = 20;

/// The job arrays submitted for one generation (`slurm-jobs.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Jobs {
    /// Each array: its job id and the candidate of each of its tasks.
    arrays: Vec<(u64, Vec<usize>)>,
}

/// Jobs of this process still on the cluster, cancelled on Ctrl-C.
static ACTIVE: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Cancels (`scancel`) every job this process submitted that may still be
/// queued or running; for the Ctrl-C handler.
pub fn cancel_active_jobs() {
    let jobs = std::mem::take(&mut *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()));
    if !jobs.is_empty() {
        let _ = slurm::cancel(&jobs);
    }
}

/// Where a submitted unit stands ([`SlurmBatch::check`]).
#[allow(clippy::large_enum_variant)] // one per unit and poll, short-lived: size is no concern
enum Check {
    /// It has an outcome (written).
    Done(Outcome),
    /// Queued.
    Pending,
    /// Running (or in a state Slurm's tools do not name).
    Active,
    /// Lost by the cluster: submit it again.
    Again,
}

/// One training for the cluster: the spec at `spec`, trained into `out`
/// (its outcome is `out/result.json`). `key` names it in the batch's result.
pub(super) struct Unit {
    /// The caller's name for it (a candidate's index, a final training's).
    pub key: usize,
    /// Its [`CandidateSpec`], written.
    pub spec: PathBuf,
    /// Its output folder.
    pub out: PathBuf,
}

/// Trainings submitted together as one job array (and, for the tasks the
/// cluster loses, further arrays), watched until each has an outcome.
pub(super) struct SlurmBatch<'a> {
    /// The run folder (shared with the nodes).
    pub store: &'a RunStore,
    /// How to submit, with the time limit resolved ([`time_limit`]).
    pub options: &'a SlurmOptions,
    /// Where the job counts go.
    pub progress: &'a dyn RunProgress,
    /// What the progress lines call the batch, e.g. "generation 2".
    pub label: String,
    /// Where the batch scripts and their task lists go.
    pub dir: PathBuf,
    /// The batch's job arrays (`slurm-jobs.json`), read back on resume.
    pub jobs_file: PathBuf,
    /// The job name Slurm shows.
    pub job_name: String,
}

impl SlurmBatch<'_> {
    /// Trains `units` on the cluster and returns their outcomes by key; a
    /// unit whose `out` already holds a result is not submitted again, and
    /// jobs recorded in the jobs file are watched, not resubmitted.
    ///
    /// # Errors
    /// Slurm's tools fail (not installed, controller unreachable), or the run
    /// folder cannot be written.
    pub(super) fn run(&self, units: &[Unit]) -> anyhow::Result<BTreeMap<usize, Outcome>> {
        let mut done = BTreeMap::new();
        if units.is_empty() {
            return Ok(done);
        }
        let by_key: HashMap<usize, &Unit> = units.iter().map(|u| (u.key, u)).collect();
        let mut jobs: Jobs = read_json(&self.jobs_file)?.unwrap_or_default();
        // Where each unit runs now: its job and its task in that array.
        let mut running: BTreeMap<usize, (u64, usize)> = BTreeMap::new();
        for (job, keys) in &jobs.arrays {
            for (k, &c) in keys.iter().enumerate() {
                if by_key.contains_key(&c) {
                    running.insert(c, (*job, k));
                }
            }
        }
        ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(jobs.arrays.iter().map(|a| a.0));
        let mut lost: HashMap<usize, usize> = HashMap::new();
        let unsubmitted: Vec<&Unit> = units
            .iter()
            .filter(|u| !running.contains_key(&u.key))
            .collect();
        self.submit(&unsubmitted, &mut jobs, &mut running)?;
        let mut shown = String::new();
        loop {
            let mut states: HashMap<u64, BTreeMap<usize, TaskState>> = HashMap::new();
            for &(job, _) in running.values() {
                if let std::collections::hash_map::Entry::Vacant(e) = states.entry(job) {
                    e.insert(slurm::states(job)?);
                }
            }
            let mut again = Vec::new();
            let (mut pending, mut active) = (0, 0);
            for (&c, &(job, k)) in &running {
                let state = states.get(&job).and_then(|s| s.get(&k));
                let lost = lost.entry(c).or_insert(0);
                match self.check(by_key[&c], job, k, state, lost)? {
                    Check::Done(o) => {
                        done.insert(c, o);
                    }
                    Check::Pending => pending += 1,
                    Check::Active => active += 1,
                    Check::Again => again.push(by_key[&c]),
                }
            }
            running.retain(|c, _| !done.contains_key(c));
            self.submit(&again, &mut jobs, &mut running)?;
            let line = format!(
                "{} on Slurm: {pending} pending, {active} running, {} done",
                self.label,
                done.len()
            );
            if line != shown {
                self.store.note(self.progress, &line)?;
                shown = line;
            }
            if running.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_secs_f64(self.options.poll_s));
        }
        Ok(done)
    }

    /// Where `unit`, task `k` of job `job` in Slurm's `state`, stands: its
    /// result is in, or it failed (its outcome written), or it waits or runs,
    /// or the cluster lost it (`lost` counts how often) and it goes again, or,
    /// lost too often, it failed.
    fn check(
        &self,
        unit: &Unit,
        job: u64,
        k: usize,
        state: Option<&TaskState>,
        lost: &mut usize,
    ) -> anyhow::Result<Check> {
        let dir = &unit.out;
        if let Some(o) = read_json::<Outcome>(&dir.join(super::files::RESULT))? {
            return Ok(Check::Done(o));
        }
        let error = match state {
            Some(TaskState::Pending) => return Ok(Check::Pending),
            Some(s) if s.active() || matches!(s, TaskState::Unknown(_)) => {
                return Ok(Check::Active);
            }
            Some(s @ (TaskState::Failed | TaskState::Timeout | TaskState::OutOfMemory)) => format!(
                "its Slurm task (job {job}, task {k}) ended {s:?}{}; the end of its log:\n{}",
                if *s == TaskState::Timeout {
                    self.options.time_limit_min.map_or(String::new(), |m| {
                        format!(
                            " after its time limit of {m} min ([executor.slurm] time_limit_min)"
                        )
                    })
                } else {
                    String::new()
                },
                slurm::log_tail(dir, LOG_LINES)
            ),
            // Lost: node or boot failure, preemption, cancelled, or gone
            // without a result.
            lost_state => {
                *lost += 1;
                if *lost <= self.options.max_resubmits {
                    return Ok(Check::Again);
                }
                format!(
                    "the cluster lost its Slurm task {} times (last: {}); see {}",
                    *lost,
                    lost_state.map_or("gone from the queue".into(), |s| format!("{s:?}")),
                    dir.join(slurm::TASK_LOG).display()
                )
            }
        };
        let o = Outcome::Crashed { error };
        write_json(&dir.join(super::files::RESULT), &o)?;
        Ok(Check::Done(o))
    }

    /// Submits one array for `units` and records it.
    fn submit(
        &self,
        units: &[&Unit],
        jobs: &mut Jobs,
        running: &mut BTreeMap<usize, (u64, usize)>,
    ) -> anyhow::Result<()> {
        if units.is_empty() {
            return Ok(());
        }
        let tasks: Vec<ArrayTask> = units
            .iter()
            .map(|u| ArrayTask {
                spec: u.spec.clone(),
                out: u.out.clone(),
            })
            .collect();
        let job = slurm::submit(self.options, &tasks, &self.dir, &self.job_name)?;
        ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).push(job);
        let keys: Vec<usize> = units.iter().map(|u| u.key).collect();
        for (k, &c) in keys.iter().enumerate() {
            running.insert(c, (job, k));
        }
        jobs.arrays.push((job, keys));
        write_json(&self.jobs_file, jobs)?;
        self.store.note(
            self.progress,
            format!(
                "{}: Slurm job {job} submitted ({} task(s){})",
                self.label,
                units.len(),
                self.options
                    .time_limit_min
                    .map_or(String::new(), |m| format!(", time limit {m} min"))
            ),
        )
    }
}

/// `cand-MM/rung-R/`: a candidate's training to rung `r` on a cluster.
pub(super) fn rung_dir(candidate_dir: &std::path::Path, r: usize) -> PathBuf {
    candidate_dir.join(format!("rung-{r}"))
}

/// The time limit's margin over the estimated training time: nodes may be
/// slower than the machine that measured, and checkpoint evaluations, the
/// held-out evaluation and the analysis come on top of training.
const TIME_MARGIN: f64 = 3.0;

/// Seconds added to every estimate: start-up, checks, the last evaluations.
const TIME_OVERHEAD_S: f64 = 300.0;

/// The `--time` (minutes) for trainings of `budget` env steps at `rate` env
/// steps per second: [`TIME_MARGIN`] × the training time plus
/// [`TIME_OVERHEAD_S`], rounded up to whole minutes.
#[must_use]
pub fn time_limit(budget: u64, rate: f64) -> u64 {
    let seconds = TIME_MARGIN * budget as f64 / rate.max(1e-9) + TIME_OVERHEAD_S;
    // Saturates for absurd inputs; Slurm caps at the partition's limit anyway.
    (seconds / 60.0).ceil().min(1e9) as u64
}

/// The slowest training rate (env steps per second) among the run's trained
/// candidates and final trainings so far, if any.
pub(super) fn measured_rate(store: &RunStore) -> Option<f64> {
    let mut slowest: Option<f64> = None;
    let mut consider = |path: &std::path::Path| {
        if let Ok(Some(Outcome::Trained { report, .. })) = read_json::<Outcome>(path)
            && report.env_steps > 0
            && report.env_steps_per_sec.is_finite()
            && report.env_steps_per_sec > 0.0
        {
            slowest = Some(slowest.map_or(report.env_steps_per_sec, |s: f64| {
                s.min(report.env_steps_per_sec)
            }));
        }
    };
    for g in 0.. {
        let dir = store.generation_dir(g);
        if !dir.is_dir() {
            break;
        }
        for c in 0.. {
            let cand = store.candidate_dir(g, c);
            if !cand.is_dir() {
                break;
            }
            consider(&cand.join(super::files::RESULT));
            for r in 0.. {
                let rung = rung_dir(&cand, r);
                if !rung.is_dir() {
                    break;
                }
                consider(&rung.join(super::files::RESULT));
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(store.best_dir().join(super::files::FINAL_DIR)) {
        for entry in entries.flatten() {
            consider(&entry.path().join(super::files::RESULT));
        }
    }
    slowest
}

/// Measures this machine's training rate on `spec` with one PPO iteration
/// (nothing is written): env steps per second, start-up included, so the
/// figure is on the slow side.
pub(super) fn probe_rate(task: &rewardsmith_core::Task, spec: &CandidateSpec) -> Option<f64> {
    let started = std::time::Instant::now();
    let inputs = super::candidate::TrainingInputs::new(spec);
    let (check, samples) = super::candidate::dry_check(task, &spec.reward, spec.seed);
    if !check.ok {
        return None;
    }
    let request = crate::training::TrainRequest {
        task,
        source: inputs.source(),
        overrides: inputs.overrides(),
        seed: spec.seed,
        threads: spec.threads,
        out: None,
    };
    let mut training = crate::training::Training::start(&request, check, &samples).ok()?;
    let batch = rewardsmith_rl::PpoConfig::for_task(task).batch_size() as u64;
    let mut steps = 0;
    training
        .advance(batch.min(spec.budget), &mut |p| steps = p.env_steps)
        .ok()?;
    let seconds = started.elapsed().as_secs_f64();
    (steps > 0 && seconds > 0.0).then(|| steps as f64 / seconds)
}

/// `options` with its time limit set for trainings of `budget` env steps,
/// unless the user set one: from the run's measured rate, else from a probe
/// of the first spec of `specs` that trains. Returns the options and a line
/// saying how the limit was chosen.
pub(super) fn with_time_limit(
    options: &SlurmOptions,
    store: &RunStore,
    task: &rewardsmith_core::Task,
    budget: u64,
    specs: &[&CandidateSpec],
) -> (SlurmOptions, Option<String>) {
    let mut options = options.clone();
    if options.time_limit_min.is_some() || specs.is_empty() {
        return (options, None);
    }
    let (rate, how) = match measured_rate(store) {
        Some(rate) => (Some(rate), "the slowest training of this run so far"),
        None => (
            specs.iter().find_map(|s| probe_rate(task, s)),
            "one PPO iteration trained on this machine",
        ),
    };
    let Some(rate) = rate else {
        return (
            options,
            Some(
                "Slurm time limit: the partition's default (no training rate could be measured; \
                 set [executor.slurm] time_limit_min)"
                    .to_string(),
            ),
        );
    };
    let minutes = time_limit(budget, rate);
    options.time_limit_min = Some(minutes);
    let line = format!(
        "Slurm time limit: {minutes} min per task ({budget} env steps at {rate:.0} steps/s, \
         measured by {how}, ×{TIME_MARGIN} + {:.0} min; [executor.slurm] time_limit_min sets it)",
        TIME_OVERHEAD_S / 60.0
    );
    (options, Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_limit_is_three_times_the_training_plus_five_minutes_in_whole_minutes() {
        // 1M steps at 1000 steps/s: 3 × 1000 s + 300 s = 3300 s = 55 min.
        assert_eq!(time_limit(1_000_000, 1000.0), 55);
        // 60 000 steps at 1000 steps/s: 180 s + 300 s = 8 min.
        assert_eq!(time_limit(60_000, 1000.0), 8);
        // A part of a minute rounds up: 10 000 steps at 1000/s = 330 s → 6.
        assert_eq!(time_limit(10_000, 1000.0), 6);
        // A rate of zero does not divide by zero; the limit saturates.
        assert!(time_limit(1000, 0.0) >= 1_000_000);
    }
}
