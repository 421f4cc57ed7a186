//! Candidate trainings as Slurm job arrays, driven through Slurm's command-line
//! tools (`sbatch`, `squeue`, `sacct`, `scontrol`, `scancel`).
//!
//! One array task runs `rewardsmith eval-candidate SPEC --out OUT` for one
//! candidate; its outcome is OUT/result.json, as in a local run. A shared
//! filesystem between this machine and the compute nodes is assumed: the batch
//! script, the task list, the specs, the output folders and the `rewardsmith`
//! binary are all read and written at the same absolute paths on both sides.
//!
//! The parsing of the tools' output is split into pure functions
//! ([`parse_job_id`], [`parse_squeue`], [`parse_sacct`], [`parse_scontrol`],
//! [`parse_state`]) so that it is tested without a cluster. A one-node cluster
//! for trying the real thing: `scripts/slurm-local.sh start`.

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The file in each task's output folder that receives its stdout and stderr.
pub const TASK_LOG: &str = "slurm.log";

/// How candidate trainings are submitted to Slurm (the `[slurm]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlurmOptions {
    /// `--partition`; default: the cluster's default partition.
    pub partition: Option<String>,
    /// `--account`; default: the user's default account.
    pub account: Option<String>,
    /// `--time` in minutes per task; default: the partition's limit.
    pub time_limit_min: Option<u64>,
    /// `--cpus-per-task`. Default 1: a candidate trains on one thread unless
    /// its spec asks for more, and then this should match the spec's threads.
    pub cpus_per_task: usize,
    /// Further `sbatch` arguments, passed as they are (e.g. `--mem=4G`,
    /// `--qos=short`), before the script.
    pub extra_args: Vec<String>,
    /// The program each task runs as `BINARY eval-candidate SPEC --out OUT`.
    /// Default: this very executable (`std::env::current_exe`), which must
    /// then be visible at the same path on the nodes.
    pub binary: Option<PathBuf>,
    /// At most this many tasks of one array run at once (`--array=0-N%K`);
    /// default: no cap beyond the cluster's own limits.
    pub max_running: Option<usize>,
    /// How often the caller resubmits a task the cluster lost (node failure,
    /// boot failure, preemption: [`TaskState::retry`]). Default 2: enough to
    /// ride out a flaky node, few enough that a broken setup fails quickly.
    pub max_resubmits: usize,
    /// Seconds between two polls of the queue. Default 2: the state queries
    /// are cheap, and a candidate trains for minutes.
    pub poll_s: f64,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        Self {
            partition: None,
            account: None,
            time_limit_min: None,
            cpus_per_task: 1,
            extra_args: Vec::new(),
            binary: None,
            max_running: None,
            max_resubmits: 2,
            poll_s: 2.0,
        }
    }
}

impl SlurmOptions {
    /// Checks the values `sbatch` would reject or that make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.cpus_per_task == 0 {
            bail!("slurm.cpus_per_task must be at least 1");
        }
        if self.max_running == Some(0) {
            bail!("slurm.max_running must be at least 1");
        }
        if self.time_limit_min == Some(0) {
            bail!("slurm.time_limit_min must be at least 1");
        }
        if !(self.poll_s.is_finite() && self.poll_s > 0.0) {
            bail!("slurm.poll_s must be a positive number of seconds");
        }
        for (name, value) in [("partition", &self.partition), ("account", &self.account)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                bail!("slurm.{name} must not be empty");
            }
        }
        Ok(())
    }

    /// The program the tasks run: [`SlurmOptions::binary`] or this executable,
    /// as an absolute path.
    pub fn binary_path(&self) -> anyhow::Result<PathBuf> {
        match &self.binary {
            Some(path) => absolute(path),
            None => std::env::current_exe().context("finding the rewardsmith executable"),
        }
    }
}

/// One array task: train the candidate described by `spec` into `out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayTask {
    /// The candidate spec (`eval-candidate SPEC`).
    pub spec: PathBuf,
    /// The output folder (`--out OUT`); created by the task, which writes its
    /// log to OUT/slurm.log.
    pub out: PathBuf,
}

/// The state of one array task, from Slurm's state names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for resources (also: configuring, requeued, held).
    Pending,
    /// Running (also: completing, suspended, signalling, staging out).
    Running,
    /// Exited with code 0.
    Completed,
    /// Exited with a non-zero code, or was refused by the cluster.
    Failed,
    /// Reached its time limit (or its deadline).
    Timeout,
    /// Killed for using more memory than it was given.
    OutOfMemory,
    /// Lost with the node it ran on.
    NodeFail,
    /// Its node failed to boot.
    BootFail,
    /// Preempted by a job of higher priority.
    Preempted,
    /// Cancelled by a user or an administrator.
    Cancelled,
    /// A state name this module does not know, as Slurm spelled it.
    Unknown(String),
}

impl TaskState {
    /// Whether the cluster, not the candidate, lost the task, so that running
    /// it again may well succeed.
    #[must_use]
    pub fn retry(&self) -> bool {
        matches!(self, Self::NodeFail | Self::BootFail | Self::Preempted)
    }

    /// Whether the task is waiting or running.
    #[must_use]
    pub fn active(&self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }

    /// Whether the task has ended for good (in this submission). An
    /// [`TaskState::Unknown`] state is neither active nor terminal: the caller
    /// decides, typically by waiting a bounded time and then reading the
    /// task's result file.
    #[must_use]
    pub fn terminal(&self) -> bool {
        !self.active() && !matches!(self, Self::Unknown(_))
    }
}

/// Reads one Slurm state name, as `squeue -o %T`, `sacct -o State` and
/// `scontrol show job` print it: `RUNNING`, `CANCELLED by 0`, `CANCELLED+`,
/// `OUT_OF_MEMORY`, … Case and surrounding blanks do not matter.
#[must_use]
pub fn parse_state(s: &str) -> TaskState {
    let word = s.split_whitespace().next().unwrap_or("");
    let word = word.trim_end_matches('+').to_ascii_uppercase();
    match word.as_str() {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
        | "RESV_DEL_HOLD" => TaskState::Pending,
        "RUNNING" | "COMPLETING" | "SUSPENDED" | "STOPPED" | "SIGNALING" | "STAGE_OUT"
        | "RESIZING" => TaskState::Running,
        "COMPLETED" => TaskState::Completed,
        "FAILED" | "SPECIAL_EXIT" | "REVOKED" => TaskState::Failed,
        "TIMEOUT" | "DEADLINE" => TaskState::Timeout,
        "OUT_OF_MEMORY" => TaskState::OutOfMemory,
        "NODE_FAIL" => TaskState::NodeFail,
        "BOOT_FAIL" => TaskState::BootFail,
        "PREEMPTED" => TaskState::Preempted,
        "CANCELLED" => TaskState::Cancelled,
        _ => TaskState::Unknown(s.trim().to_string()),
    }
}

/// Writes the batch script and its task list into `script_dir` and submits
/// them as one job array named `job_name`; returns the array's job id.
///
/// Files: `script_dir/slurm-array-<n>.sh` and `.tasks` (one `SPEC<TAB>OUT`
/// line per task, the script picks line `$SLURM_ARRAY_TASK_ID`), with the
/// first `n` not yet taken. The script's own output, empty unless the script
/// fails before the task starts, goes to `slurm-array-<n>.<task>.out`. Task
/// `i` of the array is `tasks[i]`.
pub fn submit(
    opts: &SlurmOptions,
    tasks: &[ArrayTask],
    script_dir: &Path,
    job_name: &str,
) -> anyhow::Result<u64> {
    opts.validate()?;
    if tasks.is_empty() {
        bail!("no tasks to submit");
    }
    let binary = opts.binary_path()?;
    std::fs::create_dir_all(script_dir)
        .with_context(|| format!("creating {}", script_dir.display()))?;
    let script_dir = absolute(script_dir)?;

    let mut list = String::new();
    for task in tasks {
        let (spec, out) = (absolute(&task.spec)?, absolute(&task.out)?);
        // Writing cannot fail on a String.
        let _ = writeln!(list, "{}\t{}", path_text(&spec)?, path_text(&out)?);
    }
    let (script, task_file) = claim_files(&script_dir)?;
    write_file(&task_file, &list)?;
    write_file(&script, &batch_script(&binary, &task_file)?)?;

    let stem = script.with_extension("");
    let output = format!("{}.%a.out", path_text(&stem)?);
    let mut array = format!("0-{}", tasks.len() - 1);
    if let Some(k) = opts.max_running {
        let _ = write!(array, "%{k}");
    }
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--array={array}"))
        .arg(format!("--job-name={job_name}"))
        .arg(format!("--cpus-per-task={}", opts.cpus_per_task))
        .arg(format!("--output={output}"));
    if let Some(partition) = &opts.partition {
        cmd.arg(format!("--partition={partition}"));
    }
    if let Some(account) = &opts.account {
        cmd.arg(format!("--account={account}"));
    }
    if let Some(minutes) = opts.time_limit_min {
        cmd.arg(format!("--time={minutes}"));
    }
    cmd.args(&opts.extra_args).arg(&script);
    let out = run(&mut cmd)?;
    if !out.status.success() {
        bail!(
            "sbatch failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let id = parse_job_id(&String::from_utf8_lossy(&out.stdout))?;
    tracing::info!(job_id = id, tasks = tasks.len(), script = %script.display(), "submitted Slurm array");
    Ok(id)
}

/// Reads the job id from `sbatch --parsable`'s output: `123` or
/// `123;cluster`, on the last non-empty line (a site's submit filter may print
/// notices before it).
pub fn parse_job_id(stdout: &str) -> anyhow::Result<u64> {
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or_else(|| anyhow!("sbatch printed no job id"))?;
    let id = line.split(';').next().unwrap_or(line).trim();
    id.parse()
        .with_context(|| format!("sbatch printed {line:?}, not a job id"))
}

/// The states of the tasks of array `job_id` that Slurm still knows about.
///
/// Queued and running tasks come from `squeue`; finished ones from `sacct`
/// when accounting is on, else from `scontrol show job`, which keeps finished
/// jobs for the cluster's `MinJobAge`. A task known to neither (long finished,
/// or cancelled while pending) is absent: the caller treats it as gone and
/// reads its result file.
pub fn states(job_id: u64) -> anyhow::Result<BTreeMap<usize, TaskState>> {
    let id = job_id.to_string();
    let mut map = BTreeMap::new();

    let queue = run(Command::new("squeue").args(["-h", "-r", "-j", &id, "-o", "%i|%T"]))?;
    if queue.status.success() {
        map = parse_squeue(&String::from_utf8_lossy(&queue.stdout), job_id);
    } else if !unknown_job(&queue) {
        bail!(
            "squeue failed ({}): {}",
            queue.status,
            String::from_utf8_lossy(&queue.stderr).trim()
        );
    }

    let acct = run(Command::new("sacct").args(["-n", "-P", "-X", "-j", &id, "-o", "JobID,State"]))?;
    let mut finished = BTreeMap::new();
    if acct.status.success() {
        finished = parse_sacct(&String::from_utf8_lossy(&acct.stdout), job_id);
    }
    if finished.is_empty() {
        // No accounting (sacct fails), or it has not recorded the job yet.
        let show = run(Command::new("scontrol").args(["-o", "show", "job", &id]))?;
        if show.status.success() {
            finished = parse_scontrol(&String::from_utf8_lossy(&show.stdout), job_id);
        } else if !unknown_job(&show) {
            tracing::warn!(
                job_id,
                error = %String::from_utf8_lossy(&show.stderr).trim(),
                "scontrol show job failed"
            );
        }
    }
    for (task, state) in finished {
        map.entry(task).or_insert(state);
    }
    Ok(map)
}

/// Cancels whole jobs (all tasks of each array) with `scancel`.
pub fn cancel(job_ids: &[u64]) -> anyhow::Result<()> {
    if job_ids.is_empty() {
        return Ok(());
    }
    let out = run(Command::new("scancel").args(job_ids.iter().map(u64::to_string)))?;
    if !out.status.success() {
        bail!(
            "scancel failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The last `lines` lines of OUT/slurm.log (at most its last 64 KiB); empty if
/// there is no log.
#[must_use]
pub fn log_tail(out: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 64 * 1024;
    let Ok(mut file) = std::fs::File::open(out.join(TASK_LOG)) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(MAX_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    // Starting mid-file, the first line is likely cut: drop it.
    let first = usize::from(start > 0 && all.len() > 1);
    let from = all.len().saturating_sub(lines).max(first);
    all[from..].join("\n")
}

/// Reads `squeue -h -r -o '%i|%T'` output: `123_4|RUNNING` lines. Lines of
/// other jobs and non-array lines are skipped; a pending range `123_[2-5%2]`
/// (as printed without `-r`) gives every task in it.
#[must_use]
pub fn parse_squeue(stdout: &str, job_id: u64) -> BTreeMap<usize, TaskState> {
    parse_id_state_lines(stdout, job_id)
}

/// Reads `sacct -n -P -X -o JobID,State` output: `123_4|COMPLETED`,
/// `123_[5-9]|PENDING`, `123_2|CANCELLED by 0`.
#[must_use]
pub fn parse_sacct(stdout: &str, job_id: u64) -> BTreeMap<usize, TaskState> {
    parse_id_state_lines(stdout, job_id)
}

fn parse_id_state_lines(stdout: &str, job_id: u64) -> BTreeMap<usize, TaskState> {
    let mut map = BTreeMap::new();
    for line in stdout.lines() {
        let Some((id, state)) = line.trim().split_once('|') else {
            continue;
        };
        let Some((job, tasks)) = id.trim().split_once('_') else {
            continue;
        };
        // `123.batch` steps (without -X) and other jobs are not ours.
        if job.parse::<u64>().ok() != Some(job_id) {
            continue;
        }
        let tasks = tasks.trim().trim_start_matches('[').trim_end_matches(']');
        let state = parse_state(state);
        for task in parse_task_ids(tasks) {
            map.insert(task, state.clone());
        }
    }
    map
}

/// Reads `scontrol -o show job ID` output: one line per task record, with
/// `ArrayJobId=123`, `ArrayTaskId=4` (or a pending range `2,4-5%2`) and
/// `JobState=COMPLETED`.
#[must_use]
pub fn parse_scontrol(stdout: &str, job_id: u64) -> BTreeMap<usize, TaskState> {
    let mut map = BTreeMap::new();
    for line in stdout.lines() {
        let mut array_job = None;
        let mut tasks = None;
        let mut state = None;
        for field in line.split_whitespace() {
            if let Some(v) = field.strip_prefix("ArrayJobId=") {
                array_job = v.parse::<u64>().ok();
            } else if let Some(v) = field.strip_prefix("ArrayTaskId=") {
                tasks = Some(v);
            } else if let Some(v) = field.strip_prefix("JobState=") {
                state = Some(v);
            }
        }
        if let (Some(job), Some(tasks), Some(state)) = (array_job, tasks, state)
            && job == job_id
        {
            let state = parse_state(state);
            for task in parse_task_ids(tasks) {
                map.insert(task, state.clone());
            }
        }
    }
    map
}

/// Task ids in Slurm's range syntax: `4`, `0-3`, `1,3-5`, `2-5%2` (the
/// throttle after `%` is dropped), `0-9:2` (a step). Malformed parts are
/// skipped.
fn parse_task_ids(s: &str) -> Vec<usize> {
    let s = s.split('%').next().unwrap_or("");
    let mut ids = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (range, step) = match part.split_once(':') {
            Some((range, step)) => (range, step.parse::<usize>().unwrap_or(0)),
            None => (part, 1),
        };
        if step == 0 {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    ids.extend((a..=b).step_by(step));
                }
            }
            None => {
                if let Ok(a) = range.parse() {
                    ids.push(a);
                }
            }
        }
    }
    ids
}

/// The batch script: picks its `SPEC<TAB>OUT` line, creates OUT and runs the
/// binary with its output in OUT/slurm.log.
fn batch_script(binary: &Path, task_file: &Path) -> anyhow::Result<String> {
    let binary = sh_quote(path_text(binary)?);
    let task_file = sh_quote(path_text(task_file)?);
    Ok(format!(
        r#"#!/bin/bash
# Written by rewardsmith: one candidate training per array task.
set -euo pipefail
line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {task_file})
if [ -z "$line" ]; then
    echo "no line $((SLURM_ARRAY_TASK_ID + 1)) in "{task_file} >&2
    exit 2
fi
IFS=$'\t' read -r spec out <<<"$line"
mkdir -p "$out"
# When the task started, for the overhead figures (scripts/slurm_overhead.py).
echo "rewardsmith: task started at $(date +%s.%N) on $(hostname)" >"$out/{TASK_LOG}"
exec {binary} eval-candidate "$spec" --out "$out" >>"$out/{TASK_LOG}" 2>&1
"#
    ))
}

/// Creates `slurm-array-<n>.tasks` for the first free `n` (atomically, so two
/// submitters in one folder do not collide) and returns the script and task
/// file paths.
fn claim_files(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    for n in 0..100_000u32 {
        let tasks = dir.join(format!("slurm-array-{n}.tasks"));
        match OpenOptions::new().write(true).create_new(true).open(&tasks) {
            Ok(_) => return Ok((dir.join(format!("slurm-array-{n}.sh")), tasks)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", tasks.display())),
        }
    }
    bail!("no free slurm-array-<n> name in {}", dir.display())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn run(cmd: &mut Command) -> anyhow::Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    tracing::debug!(command = ?cmd, "running");
    cmd.output()
        .with_context(|| format!("running {program} (is Slurm installed here?)"))
}

/// Whether a query failed only because Slurm no longer knows the job.
fn unknown_job(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stderr).contains("Invalid job id")
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("making {} absolute", path.display()))
}

/// A path as text for the script and the task list: UTF-8, without the tab
/// and newline that separate the task list's fields and lines.
fn path_text(path: &Path) -> anyhow::Result<&str> {
    let text = path
        .to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", path.display()))?;
    if text.contains(['\t', '\n', '\r']) {
        bail!("path {text:?} contains a tab or a line break");
    }
    Ok(text)
}

/// Quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        use TaskState::*;
        for (name, state) in [
            ("PENDING", Pending),
            ("CONFIGURING", Pending),
            ("REQUEUED", Pending),
            ("RUNNING", Running),
            ("COMPLETING", Running),
            ("COMPLETED", Completed),
            ("FAILED", Failed),
            ("TIMEOUT", Timeout),
            ("OUT_OF_MEMORY", OutOfMemory),
            ("NODE_FAIL", NodeFail),
            ("BOOT_FAIL", BootFail),
            ("PREEMPTED", Preempted),
            ("CANCELLED", Cancelled),
            ("CANCELLED by 0", Cancelled),
            ("CANCELLED+", Cancelled),
            (" running ", Running),
            ("WEIRD_NEW_STATE", Unknown("WEIRD_NEW_STATE".into())),
        ] {
            assert_eq!(parse_state(name), state, "{name}");
        }
        assert!(NodeFail.retry() && BootFail.retry() && Preempted.retry());
        assert!(!Failed.retry() && !Cancelled.retry() && !OutOfMemory.retry());
        assert!(Pending.active() && Running.active() && !Completed.active());
        assert!(Completed.terminal() && Timeout.terminal() && !Running.terminal());
        assert!(!Unknown("X".into()).terminal() && !Unknown("X".into()).active());
    }

    #[test]
    fn job_ids() {
        assert_eq!(parse_job_id("123\n").unwrap(), 123);
        assert_eq!(parse_job_id("4567;rewardsmith\n").unwrap(), 4567);
        assert_eq!(
            parse_job_id("note: using default account\n89\n\n").unwrap(),
            89
        );
        assert!(parse_job_id("").is_err());
        assert!(parse_job_id("Submitted batch job 12\n").is_err());
    }

    #[test]
    fn task_id_ranges() {
        assert_eq!(parse_task_ids("4"), [4]);
        assert_eq!(parse_task_ids("0-3"), [0, 1, 2, 3]);
        assert_eq!(parse_task_ids("2-5%2"), [2, 3, 4, 5]);
        assert_eq!(parse_task_ids("2,4-5%2"), [2, 4, 5]);
        assert_eq!(parse_task_ids("0-6:3"), [0, 3, 6]);
        assert_eq!(parse_task_ids("x,7"), [7]);
        assert!(parse_task_ids("").is_empty());
    }

    #[test]
    fn squeue_lines() {
        // `squeue -h -r -j 3 -o '%i|%T'` while tasks 0-1 run under a %2 cap.
        let out = "3_2|PENDING\n3_3|PENDING\n3_0|RUNNING\n3_1|COMPLETING\n";
        let map = parse_squeue(out, 3);
        assert_eq!(map.len(), 4);
        assert_eq!(map[&0], TaskState::Running);
        assert_eq!(map[&1], TaskState::Running);
        assert_eq!(map[&3], TaskState::Pending);
        // Without -r, pending tasks are folded into one line.
        let map = parse_squeue("3_[2-5%2]|PENDING\n3_0|RUNNING\n3_1|RUNNING\n", 3);
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        assert_eq!(map[&5], TaskState::Pending);
        // Other jobs, plain jobs and noise are skipped.
        assert!(parse_squeue("31_0|RUNNING\n3|RUNNING\ngarbage\n\n", 3).is_empty());
    }

    #[test]
    fn sacct_lines() {
        // `sacct -n -P -X -j 812 -o JobID,State` on a cluster with accounting.
        let out = "812_0|COMPLETED\n812_1|FAILED\n812_2|CANCELLED by 1000\n812_3|NODE_FAIL\n\
                   812_4|OUT_OF_MEMORY\n812_5|TIMEOUT\n812_6|RUNNING\n812_[7-9%3]|PENDING\n";
        let map = parse_sacct(out, 812);
        use TaskState::*;
        let want = [
            Completed,
            Failed,
            Cancelled,
            NodeFail,
            OutOfMemory,
            Timeout,
            Running,
            Pending,
            Pending,
            Pending,
        ];
        assert_eq!(map.values().cloned().collect::<Vec<_>>(), want);
        // Steps (when -X is forgotten) do not count.
        assert_eq!(parse_sacct("812_0.batch|COMPLETED\n", 812).len(), 0);
    }

    #[test]
    fn scontrol_lines() {
        // `scontrol -o show job 3` from Slurm 22.05: one finished task record
        // per line, and the array's own record for the tasks still pending.
        let out = "JobId=3 ArrayJobId=3 ArrayTaskId=2,4-5%2 ArrayTaskThrottle=2 JobName=wrap \
UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901757 Nice=0 Account=(null) QOS=(null) \
JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1\n\
JobId=5 ArrayJobId=3 ArrayTaskId=1 ArrayTaskThrottle=2 JobName=wrap UserId=root(0) \
JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=0:0\n\
JobId=4 ArrayJobId=3 ArrayTaskId=0 ArrayTaskThrottle=2 JobName=wrap UserId=root(0) \
JobState=CANCELLED Reason=None ExitCode=0:15\n\
JobId=9 ArrayJobId=7 ArrayTaskId=0 JobState=FAILED Reason=NonZeroExitCode\n\
JobId=10 JobName=wrap JobState=COMPLETED Reason=None\n";
        let map = parse_scontrol(out, 3);
        use TaskState::*;
        assert_eq!(map.len(), 5);
        assert_eq!(map[&0], Cancelled);
        assert_eq!(map[&1], Completed);
        assert_eq!(map[&2], Pending);
        assert_eq!(map[&4], Pending);
        assert_eq!(map[&5], Pending);
        assert!(!map.contains_key(&3));
    }

    #[test]
    fn options_defaults_and_checks() {
        let opts: SlurmOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(opts, SlurmOptions::default());
        assert_eq!((opts.cpus_per_task, opts.max_resubmits), (1, 2));
        assert!(opts.validate().is_ok());
        assert!(serde_json::from_str::<SlurmOptions>(r#"{"partitio": "x"}"#).is_err());
        let bad = |f: fn(&mut SlurmOptions)| {
            let mut o = SlurmOptions::default();
            f(&mut o);
            o.validate().is_err()
        };
        assert!(bad(|o| o.cpus_per_task = 0));
        assert!(bad(|o| o.max_running = Some(0)));
        assert!(bad(|o| o.poll_s = f64::NAN));
        assert!(bad(|o| o.partition = Some(" ".into())));
    }

    #[test]
    fn script_quotes_and_reads_its_line() {
        let script =
            batch_script(Path::new("/opt/it's/rewardsmith"), Path::new("/r/a.tasks")).unwrap();
        assert!(script.contains(r"exec '/opt/it'\''s/rewardsmith' eval-candidate"));
        assert!(script.contains("sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" '/r/a.tasks'"));
        assert!(path_text(Path::new("/a\tb")).is_err());
    }

    #[test]
    fn array_files_are_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let (script, tasks) = claim_files(dir.path()).unwrap();
        assert_eq!(script, dir.path().join("slurm-array-0.sh"));
        assert_eq!(tasks, dir.path().join("slurm-array-0.tasks"));
        let (script, _) = claim_files(dir.path()).unwrap();
        assert_eq!(script, dir.path().join("slurm-array-1.sh"));
    }

    #[test]
    fn log_tails() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(log_tail(dir.path(), 3), "");
        let text: String = (0..10).map(|i| format!("line {i}\n")).collect();
        std::fs::write(dir.path().join(TASK_LOG), text).unwrap();
        assert_eq!(log_tail(dir.path(), 2), "line 8\nline 9");
        assert_eq!(log_tail(dir.path(), 0), "");
        assert_eq!(log_tail(dir.path(), 50).lines().count(), 10);
    }

    /// Runs against a real cluster (`scripts/slurm-local.sh start`);
    /// `scripts/test.sh` starts one and runs it.
    #[test]
    #[ignore = "needs a running Slurm: scripts/slurm-local.sh start, then --ignored (scripts/test.sh does both)"]
    fn submits_an_array_to_the_local_slurm() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A stand-in for `rewardsmith eval-candidate SPEC --out OUT`.
        let fake = root.join("fake-rewardsmith");
        std::fs::write(
            &fake,
            "#!/bin/sh\n[ \"$1\" = eval-candidate ] && [ \"$3\" = --out ] || exit 2\n\
             echo \"training $2\"\ncp \"$2\" \"$4/result.json\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let tasks: Vec<ArrayTask> = (0..2)
            .map(|i| {
                let spec = root.join(format!("spec-{i}.json"));
                std::fs::write(&spec, format!("{{\"candidate\": {i}}}")).unwrap();
                ArrayTask {
                    spec,
                    out: root.join(format!("cand-{i}")),
                }
            })
            .collect();
        let opts = SlurmOptions {
            binary: Some(fake),
            max_running: Some(2),
            ..SlurmOptions::default()
        };
        let job = submit(&opts, &tasks, &root.join("slurm"), "rewardsmith-test").unwrap();
        assert!(root.join("slurm/slurm-array-0.sh").is_file());

        let start = std::time::Instant::now();
        let mut seen = Vec::new();
        loop {
            let now = states(job).unwrap();
            seen.extend(now.values().cloned());
            if !now.values().any(TaskState::active) {
                break;
            }
            if start.elapsed().as_secs() > 120 {
                let _ = cancel(&[job]);
                panic!("job {job} still active after 120 s: {now:?}");
            }
            std::thread::sleep(std::time::Duration::from_secs_f64(opts.poll_s));
        }
        let last = states(job).unwrap();
        for (i, task) in tasks.iter().enumerate() {
            let result = std::fs::read_to_string(task.out.join("result.json"))
                .unwrap_or_else(|e| panic!("task {i}: {e}; log: {}", log_tail(&task.out, 20)));
            assert_eq!(result, format!("{{\"candidate\": {i}}}"));
            assert!(log_tail(&task.out, 5).contains("training"), "task {i} log");
            // Finished tasks are either still known as completed or gone.
            assert!(
                last.get(&i).is_none_or(|s| *s == TaskState::Completed),
                "{last:?}"
            );
        }
        assert!(
            seen.contains(&TaskState::Completed) || last.is_empty(),
            "states seen: {seen:?}"
        );
        cancel(&[]).unwrap();
    }
}
