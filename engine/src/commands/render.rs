//! `rewardsmith render`: a policy's episodes as an animated GIF and a PNG
//! filmstrip.

use super::CliError;
use super::print_json;
use crate::cli::RenderArgs;
use crate::render::{PolicyController, RenderConfig, render_rollout};
use anyhow::anyhow;
use rewardsmith_core::Registry;
use rewardsmith_envs::rollout::{Controller, RandomController, ZeroController};
use rewardsmith_rl::Policy;
use serde_json::json;
use std::path::Path;

pub(crate) fn run(registry: &Registry, args: &RenderArgs) -> Result<(), CliError> {
    let task = registry.task(&args.task)?;
    if args.episodes == 0 {
        return Err(CliError::usage(anyhow!("--episodes must be at least 1")));
    }
    if args.out.extension().and_then(|e| e.to_str()) != Some("gif") {
        return Err(CliError::usage(anyhow!(
            "--out must name a .gif file (the filmstrip goes beside it as .png)"
        )));
    }
    let mut controller: Box<dyn Controller> = match args.policy.as_str() {
        "random" => Box::new(RandomController::new(args.seed)),
        "zero" => Box::new(ZeroController),
        path if Path::new(path).exists() => {
            let policy = Policy::load(Path::new(path)).map_err(CliError::usage)?;
            policy.check_task(task).map_err(CliError::usage)?;
            Box::new(PolicyController(policy))
        }
        other => {
            return Err(CliError::usage(anyhow!(
                "unknown policy `{other}`: use `random`, `zero`, or the path of a saved policy \
                 (a folder with policy.json and policy.safetensors)"
            )));
        }
    };
    let config = RenderConfig {
        width: args.width,
        height: args.height,
        ..RenderConfig::default()
    };
    if config.width < 16 || config.height < 16 || config.width > 4096 || config.height > 4096 {
        return Err(CliError::usage(anyhow!(
            "--width and --height must be between 16 and 4096"
        )));
    }
    let report = render_rollout(
        task,
        controller.as_mut(),
        args.episodes,
        args.seed,
        &config,
        &args.out,
    )
    .map_err(CliError::failure)?;
    let png = args.out.with_extension("png");
    if args.json {
        print_json(&json!({
            "gif": args.out,
            "filmstrip": png,
            "frames": report.frames,
            "env_steps": report.env_steps,
            "delay_cs": report.delay_cs,
            "simulate_s": report.simulate_s,
            "raster_s": report.raster_s,
            "encode_s": report.encode_s,
        }));
    } else {
        println!(
            "{}: {} frames from {} env steps ({:.2} s simulating, {:.2} s ray casting, {:.2} s encoding); filmstrip {}",
            args.out.display(),
            report.frames,
            report.env_steps,
            report.simulate_s,
            report.raster_s,
            report.encode_s,
            png.display()
        );
    }
    Ok(())
}
