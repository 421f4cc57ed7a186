//! `report.html` in a real browser: a tiny search, then Debian's `chromium`
//! (installed by `scripts/chromium-check.sh` when missing) opens the page
//! headless, takes a screenshot and dumps the rendered DOM. The page must show
//! the verdict, the final table and a picture of the run, and raise no console
//! error. Without chromium the test fails: a browser test that skips proves
//! nothing.
//!
//! Set `REWARDSMITH_REPORT_SHOT=path.png` to keep the screenshot.

mod common;
use common::{json_of, rewardsmith};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a chromium run may take before it is killed and the test fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// The browser, installed if missing; panics with the installer's output
/// when it cannot be had.
fn chromium() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/chromium-check.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(
        out.status.success() && !path.is_empty(),
        "chromium is missing and {} could not install it (Debian's `chromium` package is \
         needed for this test; install it by hand if this machine has no apt):\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(path)
}

/// Runs headless chromium on `page` with `extra` arguments, its own profile in
/// `scratch`; returns (stdout, stderr). Kills it and panics after
/// [`CHROMIUM_TIMEOUT`].
fn run_chromium(browser: &Path, scratch: &Path, page: &Path, extra: &[String]) -> (String, String) {
    let profile = tempfile::tempdir_in(scratch).unwrap();
    let stdout_path = scratch.join(format!("stdout-{}.txt", extra.len()));
    let stderr_path = scratch.join(format!("stderr-{}.txt", extra.len()));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {extra:?} did not finish within {CHROMIUM_TIMEOUT:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        status.success(),
        "chromium {extra:?} failed ({status}):\n{stderr}"
    );
    (stdout, stderr)
}

/// Console messages chromium logged (`…:CONSOLE(line)] "message", source: …`):
/// the page itself logs nothing, so any is a script error or a failed load.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn the_report_renders_in_headless_chromium_with_verdict_table_and_pictures() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let summary = json_of(&rewardsmith(&[
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "2",
        "--generations",
        "2",
        "--budget",
        "4096",
        "--final-budget",
        "4096",
        "--final-seeds",
        "2",
        "--threads",
        "2",
        "--out",
        run.to_str().unwrap(),
        "--json",
    ]));
    let page = run.join("report.html");
    assert!(page.is_file());

    let shot = dir.path().join("shot.png");
    let (_, stderr) = run_chromium(
        &browser,
        dir.path(),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,2000".to_string(),
        ],
    );
    assert_eq!(console_lines(&stderr), Vec::<&str>::new(), "{stderr}");
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // A blank 1200 × 2000 page compresses to a few kilobytes; text, tables,
    // curves and code do not.
    assert!(png.len() > 30_000, "screenshot of {} bytes", png.len());
    if let Ok(keep) = std::env::var("REWARDSMITH_REPORT_SHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let (dom, stderr) = run_chromium(&browser, dir.path(), &page, &["--dump-dom".to_string()]);
    assert_eq!(console_lines(&stderr), Vec::<&str>::new(), "{stderr}");
    assert!(
        !dom.contains("id=\"script-error\""),
        "a script error reached the page"
    );
    assert!(
        ["matches", "exceeds", "falls short of"]
            .iter()
            .any(|verb| dom.contains(&format!("found a reward that {verb} the human-written one"))),
        "no verdict in the DOM"
    );
    // The final table, with the run's figures (as `--json` printed them) in it.
    let table_start = dom.find("<table class=\"final\"").expect("a final table");
    let table = &dom[table_start..table_start + dom[table_start..].find("</table>").unwrap()];
    for row in ["best found", "human-written", "sparse"] {
        assert!(table.contains(row), "{row} in {table}");
    }
    for reward in ["best", "human", "sparse"] {
        let mean = summary["final"][reward]["mean"].as_f64().unwrap();
        assert!(
            table.contains(&format!("{mean:.4}")),
            "{reward} mean {mean} in {table}"
        );
    }
    assert!(table.contains("95% interval"));
    // Every picture the page shows is a file of the run folder.
    let sources: Vec<&str> = dom
        .split("<img ")
        .skip(1)
        .filter_map(|tag| tag.split("src=\"").nth(1)?.split('"').next())
        .collect();
    assert!(!sources.is_empty(), "no <img> in the page");
    for src in &sources {
        assert!(
            !src.contains("://") && run.join(src).is_file(),
            "<img src={src}> is not a file of the run"
        );
    }
    // The code cards are there, highlighted, and the LLM exchange is folded.
    assert!(dom.contains("<span class=\"k\">fn</span>"));
    assert!(dom.contains("<details><summary>2 calls"), "LLM exchange");
}
