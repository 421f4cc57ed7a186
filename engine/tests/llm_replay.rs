//! Recording and replay: every call lands in `llm/` (never the API key), and a
//! replayed session gives identical completions; a miss is an error.

use rewardsmith::llm::fake_server::{FakeReply, FakeServer, chat_reply};
use rewardsmith::llm::{
    ApiKey, Backend, BuiltinDesigner, DesignContext, LlmClient, LlmConfig, LlmError, LlmRequest,
    Message, OpenAiClient, Recorder, RecordingClient, ReplayClient, request_key,
};
use std::path::Path;

const KEY: &str = "sk-live-SECRET-0123456789abcdef";

fn conversation(i: usize) -> LlmRequest {
    LlmRequest::new(
        vec![
            Message::system("You write rewards."),
            Message::user(format!(
                "Generation {i}: write a reward.\nMore detail here."
            )),
        ],
        2,
    )
}

fn record_openai_session(dir: &Path) -> Vec<Vec<String>> {
    let server = FakeServer::start(|i, req| {
        if i == 3 {
            // Some servers echo the key they were given.
            FakeReply::error(401, &format!("Incorrect API key provided: {KEY}"))
        } else {
            let a = format!("answer {i}a");
            let b = format!("answer {i}b");
            chat_reply(req, &[&a, &b], "stop")
        }
    })
    .unwrap();
    let cfg = LlmConfig {
        backend: Some(Backend::Openai),
        base_url: Some(server.base_url()),
        model: Some("gpt-test".into()),
        max_retries: 0,
        ..LlmConfig::default()
    };
    let llm = RecordingClient::new(
        OpenAiClient::new(&cfg, Some(ApiKey::new(KEY)), 1).unwrap(),
        Recorder::open(dir).unwrap(),
    );
    let mut out = Vec::new();
    for i in 0..3 {
        let r = llm.complete(&conversation(i)).unwrap();
        out.push(r.completions.into_iter().map(|c| c.text).collect());
    }
    // The 4th call fails (401) and is recorded as a failure.
    assert!(llm.complete(&conversation(3)).is_err());
    let auth = server.requests()[0]
        .header("authorization")
        .unwrap()
        .to_string();
    assert!(auth.contains(KEY), "the key was sent to the server");
    out
}

fn all_files_text(dir: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        text.push_str(&std::fs::read_to_string(&p).unwrap());
    }
    text
}

#[test]
fn records_never_contain_the_key_and_replay_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    let answers = record_openai_session(&dir);

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["0000.json", "0001.json", "0002.json", "0003.json"]);
    let text = all_files_text(&dir);
    assert!(!text.contains(KEY), "the API key leaked into llm/");
    assert!(
        !text.contains("SECRET"),
        "part of the API key leaked into llm/"
    );
    assert!(!text.to_lowercase().contains("bearer"));

    let records = Recorder::read_dir(&dir).unwrap();
    assert_eq!(records[1].request.model, "gpt-test");
    assert_eq!(
        records[1].response.as_ref().unwrap().usage.prompt_tokens,
        10
    );
    assert!(records[3].error.as_deref().unwrap().contains("401"));
    assert_eq!(
        records[0].hash,
        request_key("gpt-test", &conversation(0).messages, 2, 1.0)
    );

    // Replay: same answers, no server.
    let replay = ReplayClient::open(&dir, None, 1.0).unwrap();
    assert_eq!(replay.model(), "gpt-test");
    assert_eq!(replay.recorded_backend(), "openai");
    for (i, want) in answers.iter().enumerate() {
        let got: Vec<String> = replay
            .complete(&conversation(i))
            .unwrap()
            .completions
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(&got, want);
    }
    let err = replay.complete(&conversation(3)).unwrap_err();
    assert!(
        matches!(err, LlmError::Replayed(ref m) if m.contains("401")),
        "{err}"
    );
    assert_eq!(replay.totals().calls, 3);
    assert_eq!(replay.totals().prompt_tokens, 30);
    assert_eq!(replay.remaining(), 0);

    // Asking once more than recorded is an error, not a silent repeat.
    let err = replay.complete(&conversation(0)).unwrap_err();
    assert!(
        matches!(err, LlmError::ReplayExhausted { recorded: 1, .. }),
        "{err}"
    );
}

#[test]
fn a_miss_names_the_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    record_openai_session(&dir);
    let replay = ReplayClient::open(&dir, None, 1.0).unwrap();
    let req = conversation(9);
    let err = replay.complete(&req).unwrap_err();
    let hash = request_key("gpt-test", &req.messages, 2, 1.0);
    match &err {
        LlmError::ReplayMiss {
            hash: h, summary, ..
        } => {
            assert_eq!(h, &hash);
            assert_eq!(summary, "Generation 9: write a reward.");
        }
        other => panic!("unexpected {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&hash) && text.contains("Generation 9"),
        "{text}"
    );
    // A different temperature or n is a different request.
    assert!(replay.complete(&conversation(0).temperature(0.5)).is_err());
    let mut more = conversation(0);
    more.n = 3;
    assert!(replay.complete(&more).is_err());
}

#[test]
fn jsonl_transcripts_replay_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    let answers = record_openai_session(&dir);
    let jsonl = tmp.path().join("transcript.jsonl");
    assert_eq!(Recorder::export_jsonl(&dir, &jsonl).unwrap(), 4);
    assert!(!std::fs::read_to_string(&jsonl).unwrap().contains(KEY));
    let replay = ReplayClient::open(&jsonl, Some("gpt-test"), 1.0).unwrap();
    let got: Vec<String> = replay
        .complete(&conversation(2))
        .unwrap()
        .completions
        .into_iter()
        .map(|c| c.text)
        .collect();
    assert_eq!(got, answers[2]);
}

#[test]
fn the_recorder_appends_after_existing_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    record_openai_session(&dir);
    let rec = Recorder::open(&dir).unwrap();
    let llm = RecordingClient::new(rewardsmith::llm::ScriptedLlm::new(vec!["x".into()]), rec);
    llm.complete(&conversation(0)).unwrap();
    assert!(dir.join("0004.json").exists());
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp"))
    );
    let totals = Recorder::totals(&dir).unwrap();
    assert_eq!(totals.calls, 5);
    assert_eq!(totals.requests, 3);
}

#[test]
fn bad_transcripts_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    std::fs::create_dir_all(&dir).unwrap();
    let err = ReplayClient::open(&dir, None, 1.0).unwrap_err();
    assert!(err.to_string().contains("no call"), "{err}");
    std::fs::write(dir.join("0000.json"), "{ truncated").unwrap();
    let err = ReplayClient::open(&dir, None, 1.0).unwrap_err();
    assert!(
        matches!(err, LlmError::Transcript { ref path, .. } if path.ends_with("0000.json")),
        "{err}"
    );
    let jsonl = tmp.path().join("t.jsonl");
    std::fs::write(&jsonl, "\n\nnot json\n").unwrap();
    let err = ReplayClient::open(&jsonl, None, 1.0).unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    let err = ReplayClient::open(&tmp.path().join("missing.jsonl"), None, 1.0).unwrap_err();
    assert!(matches!(err, LlmError::Io { .. }), "{err}");
}

#[test]
fn several_models_need_a_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    record_openai_session(&dir);
    let rec = Recorder::open(&dir).unwrap();
    RecordingClient::new(rewardsmith::llm::ScriptedLlm::new(vec!["x".into()]), rec)
        .complete(&conversation(0))
        .unwrap();
    let err = ReplayClient::open(&dir, None, 1.0).unwrap_err();
    assert!(err.to_string().contains("gpt-test") && err.to_string().contains("scripted"));
    assert!(ReplayClient::open(&dir, Some("scripted"), 1.0).is_ok());
}

#[test]
fn keys_are_stable_and_ignore_the_design_context() {
    let msgs = conversation(0).messages;
    let k = request_key("m", &msgs, 2, 1.0);
    assert_eq!(k.len(), 64);
    assert_eq!(k, request_key("m", &msgs, 2, 1.0));
    assert_ne!(k, request_key("m2", &msgs, 2, 1.0));
    assert_ne!(k, request_key("m", &msgs, 3, 1.0));
    assert_ne!(k, request_key("m", &msgs, 2, 0.9));
    assert_ne!(k, request_key("m", &msgs[..1], 2, 1.0));

    // A builtin session (which reads the context) replays without it.
    let registry = rewardsmith_envs::registry();
    let task = registry.task("cartpole-balance").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llm");
    let llm = RecordingClient::new(BuiltinDesigner::new(3), Recorder::open(&dir).unwrap());
    let req = conversation(0).context(DesignContext::for_task(task, 11));
    let first = llm.complete(&req).unwrap();
    let replay = ReplayClient::open(&dir, None, 1.0).unwrap();
    assert_eq!(replay.recorded_backend(), "builtin");
    let again = replay.complete(&conversation(0)).unwrap();
    assert_eq!(first, again);
}
