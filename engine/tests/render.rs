//! `rewardsmith render`: a quadruped rollout becomes a valid animated GIF with
//! the expected frames, real pictures in them, and a PNG filmstrip.

use serde_json::Value;
use std::process::Command;

#[test]
fn a_quadruped_rollout_renders_to_a_gif_and_a_filmstrip() {
    let dir = tempfile::tempdir().unwrap();
    let gif_path = dir.path().join("quadruped.gif");
    let out = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args([
            "render",
            "--task",
            "quadruped-run",
            "--policy",
            "zero",
            "--seed",
            "3",
            "--out",
            gif_path.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // One frame every 0.1 s (2 steps of 0.05 s), the first 120 frames.
    assert_eq!(v["env_steps"], 238);
    assert_eq!(v["frames"], 120);
    eprintln!(
        "render speed: {} frames ray cast in {:.3} s, encoded in {:.3} s, simulated in {:.3} s",
        v["frames"], v["raster_s"], v["encode_s"], v["simulate_s"]
    );

    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options
        .read_info(std::fs::File::open(&gif_path).unwrap())
        .unwrap();
    assert_eq!((decoder.width(), decoder.height()), (320, 240));
    let mut frames = 0;
    let mut first: Option<Vec<u8>> = None;
    let mut moved = false;
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        frames += 1;
        let mut colours = frame.buffer.to_vec();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 10, "frame {frames} is nearly uniform");
        match &first {
            None => first = Some(frame.buffer.to_vec()),
            Some(f) => moved |= f.as_slice() != &*frame.buffer,
        }
    }
    assert_eq!(frames, 120);
    assert!(moved, "the frames differ");

    let png_path = gif_path.with_extension("png");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (6 * 160, 120));
}

#[test]
fn render_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![
            "--task",
            "quadruped-fly",
            "--policy",
            "zero",
            "--out",
            "x.gif",
        ],
        vec![
            "--task",
            "quadruped-run",
            "--policy",
            "nowhere",
            "--out",
            "x.gif",
        ],
        vec![
            "--task",
            "quadruped-run",
            "--policy",
            "zero",
            "--out",
            "x.mp4",
        ],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
            .arg("render")
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}
