//! The OpenAI-compatible backend against a fake server on 127.0.0.1: every
//! way such a service fails. Time-outs and back-offs are kept short.

use rewardsmith::llm::fake_server::{FakeReply, FakeServer, chat_body, chat_reply};
use rewardsmith::llm::{
    ApiKey, Backend, FinishReason, LlmClient, LlmConfig, LlmError, LlmRequest, Message,
    OpenAiClient, Price, StopReason,
};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-DO-NOT-LEAK-4242";

fn config(server: &FakeServer) -> LlmConfig {
    LlmConfig {
        backend: Some(Backend::Openai),
        base_url: Some(server.base_url()),
        model: Some("test-model".into()),
        timeout_s: 2.0,
        connect_timeout_s: 1.0,
        max_retries: 3,
        backoff_initial_ms: 10,
        backoff_max_ms: 2000,
        concurrency: 4,
        ..LlmConfig::default()
    }
}

fn client(cfg: &LlmConfig) -> OpenAiClient {
    OpenAiClient::new(cfg, Some(ApiKey::new(KEY)), 7).unwrap()
}

fn request(n: usize) -> LlmRequest {
    LlmRequest::new(
        vec![
            Message::system("You write rewards."),
            Message::user("Write a reward for running."),
        ],
        n,
    )
}

fn ok_once() -> FakeReply {
    FakeReply::json(200, &chat_body(&["fine"], "stop"))
}

#[test]
fn n_choices_in_one_request_with_usage_and_cost() {
    let server = FakeServer::start(|_, req| chat_reply(req, &["a", "b", "c"], "stop")).unwrap();
    let mut cfg = config(&server);
    cfg.prices.insert(
        "test-model".into(),
        Price {
            prompt: 1.0,
            completion: 2.0,
        },
    );
    let llm = client(&cfg);
    let r = llm.complete(&request(3).temperature(0.7)).unwrap();
    let texts: Vec<&str> = r.completions.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["a", "b", "c"]);
    assert_eq!(r.requests, 1);
    assert_eq!(r.usage.prompt_tokens, 10);
    assert_eq!(r.usage.completion_tokens, 15);
    assert!((r.cost_usd - (10.0 + 30.0) / 1e6).abs() < 1e-12);
    let per: u64 = r.completions.iter().map(|c| c.usage.total()).sum();
    assert_eq!(per, 25, "completions' usage adds up to the call's");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let body = reqs[0].json().unwrap();
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["n"], 3);
    assert_eq!(body["temperature"], 0.7);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(
        body["messages"][1]["content"],
        "Write a reward for running."
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let t = llm.totals();
    assert_eq!((t.calls, t.requests, t.prompt_tokens), (1, 1, 10));
}

#[test]
fn a_server_that_ignores_n_is_topped_up_in_parallel() {
    let server = FakeServer::start(|_, _| ok_once().after_ms(150)).unwrap();
    let mut cfg = config(&server);
    cfg.concurrency = 2;
    let llm = client(&cfg);
    let r = llm.complete(&request(4)).unwrap();
    assert_eq!(r.completions.len(), 4);
    assert_eq!(r.requests, 4);
    assert_eq!(server.request_count(), 4);
    assert!(!llm.supports_n());
    assert_eq!(server.max_in_flight(), 2, "the concurrency limit holds");
    // Later calls go parallel from the start, without `n`.
    let r = llm.complete(&request(2)).unwrap();
    assert_eq!(r.completions.len(), 2);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 6);
    assert!(
        reqs[4..]
            .iter()
            .all(|q| q.json().unwrap().get("n").is_none())
    );
}

#[test]
fn rate_limit_with_retry_after_is_honoured() {
    let server = FakeServer::scripted(vec![
        FakeReply::error(429, "slow down").with_header("Retry-After", "1"),
        ok_once(),
    ])
    .unwrap();
    let llm = client(&config(&server));
    let start = Instant::now();
    let r = llm.complete(&request(1)).unwrap();
    assert_eq!(r.completions[0].text, "fine");
    assert_eq!(server.request_count(), 2);
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        start.elapsed()
    );
}

#[test]
fn rate_limit_without_retry_after_backs_off() {
    let server = FakeServer::scripted(vec![FakeReply::error(429, "slow down"), ok_once()]).unwrap();
    let llm = client(&config(&server));
    let r = llm.complete(&request(1)).unwrap();
    assert_eq!(r.completions.len(), 1);
    assert_eq!(server.request_count(), 2);
    assert_eq!(
        r.requests, 1,
        "one successful request; failed attempts are not counted"
    );
}

#[test]
fn a_retry_after_beyond_the_limit_fails_at_once() {
    let server = FakeServer::scripted(vec![
        FakeReply::error(429, "come back tomorrow").with_header("Retry-After", "86400"),
    ])
    .unwrap();
    let llm = client(&config(&server));
    let err = llm.complete(&request(1)).unwrap_err();
    assert!(matches!(err, LlmError::RetryAfterTooLong { .. }), "{err}");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn server_error_then_success() {
    let server = FakeServer::scripted(vec![
        FakeReply::error(500, "boom"),
        FakeReply::error(502, "bad gateway"),
        ok_once(),
    ])
    .unwrap();
    let llm = client(&config(&server));
    assert_eq!(llm.complete(&request(1)).unwrap().completions.len(), 1);
    assert_eq!(server.request_count(), 3);
}

#[test]
fn persistent_server_errors_end_with_a_clear_error_after_the_budget() {
    let server = FakeServer::scripted(vec![FakeReply::error(503, "overloaded")]).unwrap();
    let llm = client(&config(&server));
    let err = llm.complete(&request(1)).unwrap_err();
    match &err {
        LlmError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 4);
            assert!(
                last.contains("HTTP 503") && last.contains("overloaded"),
                "{last}"
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(server.request_count(), 4, "1 attempt + 3 retries");
    assert!(err.to_string().contains("failed 4 times"), "{err}");
}

#[test]
fn a_hung_connection_times_out_and_is_retried() {
    let server = FakeServer::scripted(vec![FakeReply::Hang, ok_once()]).unwrap();
    let mut cfg = config(&server);
    cfg.timeout_s = 0.4;
    let llm = client(&cfg);
    let start = Instant::now();
    assert_eq!(
        llm.complete(&request(1)).unwrap().completions[0].text,
        "fine"
    );
    assert_eq!(server.request_count(), 2);
    assert!(start.elapsed() < Duration::from_secs(3));

    let server = FakeServer::scripted(vec![FakeReply::Hang]).unwrap();
    let mut cfg = config(&server);
    cfg.timeout_s = 0.3;
    cfg.max_retries = 1;
    let llm = client(&cfg);
    let start = Instant::now();
    let err = llm.complete(&request(1)).unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(server.request_count(), 2);
}

#[test]
fn truncated_and_non_json_bodies_are_retried() {
    let server = FakeServer::scripted(vec![
        FakeReply::Truncated {
            body: "{\"choices\": [".into(),
            declared: 500,
        },
        FakeReply::raw(200, "<html><body>Gateway</body></html>"),
        FakeReply::Close,
        ok_once(),
    ])
    .unwrap();
    let llm = client(&config(&server));
    assert_eq!(llm.complete(&request(1)).unwrap().completions.len(), 1);
    assert_eq!(server.request_count(), 4);

    let server =
        FakeServer::scripted(vec![FakeReply::raw(200, "<html>not an API</html>")]).unwrap();
    let mut cfg = config(&server);
    cfg.max_retries = 1;
    let err = client(&cfg).complete(&request(1)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("not the expected JSON") && text.contains("<html>not an API"),
        "{text}"
    );
}

#[test]
fn empty_choices_are_retried_then_reported() {
    let empty = FakeReply::json(200, &serde_json::json!({ "choices": [] }));
    let server = FakeServer::scripted(vec![empty.clone(), ok_once()]).unwrap();
    let llm = client(&config(&server));
    assert_eq!(llm.complete(&request(1)).unwrap().completions.len(), 1);
    assert_eq!(server.request_count(), 2);

    let server = FakeServer::scripted(vec![empty]).unwrap();
    let mut cfg = config(&server);
    cfg.max_retries = 1;
    let err = client(&cfg).complete(&request(1)).unwrap_err();
    assert!(err.to_string().contains("no choices"), "{err}");
}

#[test]
fn finish_reason_length_is_passed_on() {
    let server = FakeServer::start(|_, req| {
        chat_reply(req, &["```rhai\nfn compute_reward(s, prev) {"], "length")
    })
    .unwrap();
    let r = client(&config(&server)).complete(&request(2)).unwrap();
    assert!(
        r.completions
            .iter()
            .all(|c| c.finish_reason == FinishReason::Length)
    );
}

#[test]
fn a_wrong_key_fails_at_once_with_a_clear_message() {
    let server = FakeServer::scripted(vec![FakeReply::error(
        401,
        &format!("Incorrect API key provided: {KEY}"),
    )])
    .unwrap();
    let llm = client(&config(&server));
    let err = llm.complete(&request(3)).unwrap_err();
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(text.contains("OPENAI_API_KEY"), "{text}");
    assert!(!text.contains(KEY), "the key never appears in errors");
    assert_eq!(server.request_count(), 1, "no retry storm");

    let server = FakeServer::scripted(vec![FakeReply::error(403, "forbidden")]).unwrap();
    let err = client(&config(&server)).complete(&request(1)).unwrap_err();
    assert!(matches!(err, LlmError::Auth { status: 403, .. }));
    assert_eq!(server.request_count(), 1);
}

#[test]
fn other_client_errors_are_not_retried() {
    let server =
        FakeServer::scripted(vec![FakeReply::error(404, "model `nope` not found")]).unwrap();
    let err = client(&config(&server)).complete(&request(1)).unwrap_err();
    assert!(
        matches!(err, LlmError::Rejected { status: 404, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("model `nope` not found"));
    assert_eq!(server.request_count(), 1);
}

#[test]
fn nothing_listening_is_a_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = LlmConfig {
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        max_retries: 1,
        backoff_initial_ms: 10,
        ..LlmConfig::default()
    };
    let err = OpenAiClient::new(&cfg, None, 1)
        .unwrap()
        .complete(&request(1))
        .unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[test]
fn the_cost_limit_stops_sampling() {
    // Each request: 10 prompt tokens at $100k per 1M = $1.
    let server = FakeServer::start(|_, _| ok_once()).unwrap();
    let mut cfg = config(&server);
    cfg.prices.insert(
        "*".into(),
        Price {
            prompt: 100_000.0,
            completion: 0.0,
        },
    );
    cfg.max_cost_usd = Some(2.5);
    cfg.concurrency = 1;
    let llm = client(&cfg);
    // The server ignores n: 1 + top-ups, stopped once $2.5 is reached.
    let r = llm.complete(&request(5)).unwrap();
    assert_eq!(r.completions.len(), 3);
    assert_eq!(r.stopped, Some(StopReason::CostLimit));
    assert!((r.cost_usd - 3.0).abs() < 1e-9);
    let err = llm.complete(&request(1)).unwrap_err();
    assert!(matches!(err, LlmError::CostLimit { .. }), "{err}");
    assert!(err.to_string().contains("cost limit"));
    assert_eq!(server.request_count(), 3);
    assert!((llm.totals().cost_usd - 3.0).abs() < 1e-9);
}

#[test]
fn blocking_inside_a_runtime_is_refused() {
    let server = FakeServer::start(|_, _| ok_once()).unwrap();
    let llm = client(&config(&server));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { llm.complete(&request(1)) })
        .unwrap_err();
    assert!(matches!(err, LlmError::InsideRuntime));
    // The async entry point works there.
    let r = rt.block_on(llm.complete_async(&request(1))).unwrap();
    assert_eq!(r.completions.len(), 1);
}

#[test]
fn a_missing_key_for_openai_itself_is_a_config_error() {
    let cfg = LlmConfig {
        backend: Some(Backend::Openai),
        api_key_env: "REWARDSMITH_TEST_SURELY_UNSET_VAR".into(),
        ..LlmConfig::default()
    };
    let err = OpenAiClient::from_env(&cfg, 1).unwrap_err();
    assert!(
        err.to_string()
            .contains("REWARDSMITH_TEST_SURELY_UNSET_VAR"),
        "{err}"
    );
}

#[test]
fn calls_from_several_threads_share_one_client() {
    let server = FakeServer::start(|_, req| chat_reply(req, &["x"], "stop").after_ms(50)).unwrap();
    let llm = client(&config(&server));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| llm.complete(&request(2)).map(|r| r.completions.len())))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), 2);
        }
    });
    assert_eq!(llm.totals().calls, 3);
    assert_eq!(server.request_count(), 3);
}
