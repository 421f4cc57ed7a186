//! Where a generation's candidate trainings run: in this process (`local`) or
//! on a Slurm cluster (`slurm`), one job array per generation whose tasks run
//! `rewardsmith eval-candidate` on the specs in the run folder. The run folder
//! must be on a filesystem the nodes share; results come back through it.
//!
//! On Slurm, a task the cluster lost (node or boot failure, preemption,
//! cancellation, or gone from the queue without a result) is submitted again,
//! up to `max_resubmits` times; a task that failed (`FAILED`, `TIMEOUT`,
//! `OUT_OF_MEMORY`) is a failed candidate whose reason and log tail reach the
//! next prompt. The job ids are kept in the generation's folder, so `resume`
//! watches jobs still queued or running instead of submitting them again.

use super::candidate::{CandidateSpec, Outcome};
use super::slurm::{self, ArrayTask, SlurmOptions, TaskState};
use super::store::{RunStore, read_json, write_json};
use crate::progress::RunProgress;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
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

/// One generation's trainings on Slurm.
pub(super) struct SlurmGeneration<'a> {
    /// The run folder (shared with the nodes).
    pub store: &'a RunStore,
    /// How to submit.
    pub options: &'a SlurmOptions,
    /// Where the job counts go.
    pub progress: &'a dyn RunProgress,
    /// The generation.
    pub generation: usize,
}

impl SlurmGeneration<'_> {
    /// Trains the candidates of `train` (index and spec, written in the
    /// candidate's folder) on the cluster and returns their outcomes.
    ///
    /// # Errors
    /// Slurm's tools fail (not installed, controller unreachable), or the run
    /// folder cannot be written.
    pub(super) fn run(
        &self,
        train: &[(usize, CandidateSpec)],
    ) -> anyhow::Result<BTreeMap<usize, Outcome>> {
        let mut done = BTreeMap::new();
        if train.is_empty() {
            return Ok(done);
        }
        let jobs_file = self.store.generation_file(self.generation, JOBS_FILE);
        let mut jobs: Jobs = read_json(&jobs_file)?.unwrap_or_default();
        // Where each candidate runs now: its job and its task in that array.
        let mut running: BTreeMap<usize, (u64, usize)> = BTreeMap::new();
        for (job, cands) in &jobs.arrays {
            for (k, &c) in cands.iter().enumerate() {
                running.insert(c, (*job, k));
            }
        }
        ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(jobs.arrays.iter().map(|a| a.0));
        let mut lost: HashMap<usize, usize> = HashMap::new();
        let unsubmitted: Vec<usize> = train
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| !running.contains_key(i))
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
                let dir = self.store.candidate_dir(self.generation, c);
                if let Some(o) = read_json::<Outcome>(&dir.join(super::files::RESULT))? {
                    done.insert(c, o);
                    continue;
                }
                match states.get(&job).and_then(|s| s.get(&k)) {
                    Some(TaskState::Pending) => pending += 1,
                    Some(s) if s.active() || matches!(s, TaskState::Unknown(_)) => active += 1,
                    Some(s @ (TaskState::Failed | TaskState::Timeout | TaskState::OutOfMemory)) => {
                        let o = Outcome::Crashed {
                            error: format!(
                                "its Slurm task (job {job}, task {k}) ended {s:?}; the end of its log:\n{}",
                                slurm::log_tail(&dir, LOG_LINES)
                            ),
                        };
                        write_json(&dir.join(super::files::RESULT), &o)?;
                        done.insert(c, o);
                    }
                    // Lost: node or boot failure, preemption, cancelled, or
                    // gone without a result.
                    lost_state => {
                        let n = lost.entry(c).or_insert(0);
                        *n += 1;
                        if *n > self.options.max_resubmits {
                            let o = Outcome::Crashed {
                                error: format!(
                                    "the cluster lost its Slurm task {} times (last: {}); see {}",
                                    *n,
                                    lost_state
                                        .map_or("gone from the queue".into(), |s| format!("{s:?}")),
                                    dir.join(slurm::TASK_LOG).display()
                                ),
                            };
                            write_json(&dir.join(super::files::RESULT), &o)?;
                            done.insert(c, o);
                        } else {
                            again.push(c);
                        }
                    }
                }
            }
            running.retain(|c, _| !done.contains_key(c));
            self.submit(&again, &mut jobs, &mut running)?;
            let line = format!(
                "generation {} on Slurm: {pending} pending, {active} running, {} done",
                self.generation,
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

    /// Submits one array for the candidates `cands` and records it.
    fn submit(
        &self,
        cands: &[usize],
        jobs: &mut Jobs,
        running: &mut BTreeMap<usize, (u64, usize)>,
    ) -> anyhow::Result<()> {
        if cands.is_empty() {
            return Ok(());
        }
        let g = self.generation;
        let tasks: Vec<ArrayTask> = cands
            .iter()
            .map(|&c| ArrayTask {
                spec: self.store.candidate_file(g, c, super::files::SPEC),
                out: self.store.candidate_dir(g, c),
            })
            .collect();
        let dir = self.store.generation_dir(g);
        let job = slurm::submit(self.options, &tasks, &dir, &format!("rewardsmith-gen{g}"))?;
        ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).push(job);
        for (k, &c) in cands.iter().enumerate() {
            running.insert(c, (job, k));
        }
        jobs.arrays.push((job, cands.to_vec()));
        write_json(&self.store.generation_file(g, JOBS_FILE), jobs)?;
        self.store.note(
            self.progress,
            format!(
                "generation {g}: Slurm job {job} submitted ({} task(s))",
                cands.len()
            ),
        )
    }
}

/// The generation's job arrays, in its folder.
const JOBS_FILE: &str = super::files::SLURM_JOBS;
