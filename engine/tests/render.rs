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

/// A picture shows the task's own target or goal only: another task's
/// markers on the same env (the arm's push goal in `arm-reach`, every goal in
/// a task described in the user's words) are left out.
#[test]
fn pictures_show_only_the_tasks_own_markers() {
    use rewardsmith::render::task_scene;
    let registry = rewardsmith_envs::registry();
    let marks = |task: &rewardsmith_core::Task| {
        let mut env = task.make_env();
        env.reset(3);
        task_scene(task, env.as_ref())
            .iter()
            .filter_map(|p| p.marks)
            .collect::<Vec<_>>()
    };
    let task = |name: &str| registry.task(name).unwrap();
    assert_eq!(marks(task("arm-push")), ["goal_pos"]);
    assert_eq!(marks(task("arm-reach")), ["target_pos"]);
    assert!(marks(task("arm-lift")).is_empty());
    assert_eq!(marks(task("hand-valve-turn")), ["target_angle"]);
    assert!(marks(task("hand-valve-spin")).is_empty());
    assert_eq!(marks(task("hand-reorient")), ["target_quat"]);
    assert!(marks(task("hand-spin")).is_empty());
    let mut described = rewardsmith::search::DescribedTask::new(
        &registry,
        "arm",
        "Push the cube off the left edge of the table.",
    )
    .unwrap();
    described.fitness = Some("fn fitness(episode) { 0.0 }".to_string());
    let described = described.build(&registry).unwrap();
    assert!(marks(&described).is_empty());
    // The table is drawn as a slab with edges, not an endless plane.
    let mut env = described.make_env();
    env.reset(3);
    let scene = task_scene(&described, env.as_ref());
    assert!(
        !scene
            .iter()
            .any(|p| matches!(p.shape, rewardsmith_core::Shape::Ground))
    );
    assert!(scene.iter().any(|p| matches!(
        p.shape,
        rewardsmith_core::Shape::Cuboid { half_extents } if (half_extents[0] - 0.5).abs() < 1e-6 && (half_extents[1] - 0.6).abs() < 1e-6
    )));
}
