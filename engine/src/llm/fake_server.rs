//! A fake OpenAI-compatible HTTP server on 127.0.0.1, for tests: it answers
//! each request with whatever a handler says, including faults (error
//! statuses, `Retry-After`, hung connections, truncated or non-JSON bodies),
//! and remembers every request it saw. Test support: built only for the
//! crate's own tests and with the `test-support` feature.
//!
//! It speaks a hand-written subset of HTTP/1.1 on tokio (one request per
//! connection, `Connection: close`, no chunked bodies), so that tests control
//! every byte.
//!
//! ```
//! use rewardsmith::llm::fake_server::{FakeServer, chat_reply};
//!
//! let server = FakeServer::start(|_, req| chat_reply(req, &["hello"], "stop")).unwrap();
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.request_count(), 0);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request as the fake server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl FakeRequest {
    /// The first header called `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is.
    #[must_use]
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The `n` the request asked for (1 when absent).
    #[must_use]
    pub fn n(&self) -> usize {
        self.json()
            .and_then(|v| v.get("n").and_then(serde_json::Value::as_u64))
            .map_or(1, |n| usize::try_from(n).unwrap_or(1))
    }
}

/// What the fake server does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeReply {
    /// A complete HTTP response.
    Respond {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: String,
    },
    /// Reads the request and never answers (until the server stops).
    Hang,
    /// Sends the headers declaring `declared` body bytes, then `body` (shorter),
    /// then closes the connection.
    Truncated {
        /// What is sent.
        body: String,
        /// The `Content-Length` declared.
        declared: usize,
    },
    /// Closes the connection without a word.
    Close,
    /// Waits `ms` milliseconds, then does `reply`.
    Delayed {
        /// The wait.
        ms: u64,
        /// What follows.
        reply: Box<FakeReply>,
    },
}

impl FakeReply {
    /// A response with `status` and a JSON body.
    #[must_use]
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::Respond {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A response with `status` and a raw body.
    #[must_use]
    pub fn raw(status: u16, body: &str) -> Self {
        Self::Respond {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// An OpenAI-style error response.
    #[must_use]
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "error": { "message": message, "type": "error" } }),
        )
    }

    /// Adds a header (to a [`Respond`](Self::Respond); others are unchanged).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// This reply, after a wait of `ms` milliseconds.
    #[must_use]
    pub fn after_ms(self, ms: u64) -> Self {
        Self::Delayed {
            ms,
            reply: Box::new(self),
        }
    }
}

/// A chat-completions body with one choice per text, each ending with
/// `finish_reason`; usage: 10 prompt tokens, 5 completion tokens per choice.
#[must_use]
pub fn chat_body(texts: &[&str], finish_reason: &str) -> serde_json::Value {
    let choices: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({
                "index": i,
                "message": { "role": "assistant", "content": t },
                "finish_reason": finish_reason,
            })
        })
        .collect();
    serde_json::json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": choices,
        "usage": { "prompt_tokens": 10, "completion_tokens": 5 * texts.len(), "total_tokens": 10 + 5 * texts.len() },
    })
}

/// A 200 answer honouring the request's `n`: choice `i` is `texts[i % len]`.
#[must_use]
pub fn chat_reply(req: &FakeRequest, texts: &[&str], finish_reason: &str) -> FakeReply {
    let n = req.n();
    let chosen: Vec<&str> = (0..n)
        .map(|i| texts.get(i % texts.len().max(1)).copied().unwrap_or(""))
        .collect();
    FakeReply::json(200, &chat_body(&chosen, finish_reason))
}

type Handler = dyn Fn(usize, &FakeRequest) -> FakeReply + Send + Sync;

/// A running fake server; it stops when dropped.
pub struct FakeServer {
    port: u16,
    requests: Arc<Mutex<Vec<FakeRequest>>>,
    gauge: Arc<Gauge>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl FakeServer {
    /// Starts a server on a free port of 127.0.0.1; `handler` gets the 0-based
    /// number of the request and the request.
    ///
    /// # Errors
    /// When the port cannot be bound or the thread started.
    pub fn start(
        handler: impl Fn(usize, &FakeRequest) -> FakeReply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let seen = Arc::clone(&requests);
        let gauge = Arc::new(Gauge::default());
        let gauge_in = Arc::clone(&gauge);
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = std::thread::Builder::new()
            .name("fake-openai".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let counter = Arc::new(AtomicUsize::new(0));
                    let mut stopped = stopped;
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let handler = Arc::clone(&handler);
                                let seen = Arc::clone(&seen);
                                let counter = Arc::clone(&counter);
                                let gauge = Arc::clone(&gauge_in);
                                tokio::spawn(async move {
                                    gauge.enter();
                                    serve(stream, handler, seen, counter).await;
                                    gauge.leave();
                                });
                            }
                        }
                    }
                });
                // Dropping the runtime here cancels hung connections.
                drop(runtime);
            })?;
        Ok(Self {
            port,
            requests,
            gauge,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Starts a server that answers the `i`-th request with `replies[i]`, and
    /// every later one with the last reply.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn scripted(replies: Vec<FakeReply>) -> std::io::Result<Self> {
        Self::start(move |i, _| {
            replies
                .get(i)
                .or(replies.last())
                .cloned()
                .unwrap_or(FakeReply::Close)
        })
    }

    /// The base URL to configure: `http://127.0.0.1:PORT/v1`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Every request seen so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The most connections that were being served at once.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.gauge.max.load(Ordering::SeqCst)
    }

    /// How many requests arrived.
    #[must_use]
    pub fn request_count(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Connections in flight, and the most at once.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<FakeRequest>>>,
    counter: Arc<AtomicUsize>,
) {
    let Some(req) = read_request(&mut stream).await else {
        return;
    };
    let i = counter.fetch_add(1, Ordering::SeqCst);
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(req.clone());
    let mut reply = handler(i, &req);
    while let FakeReply::Delayed { ms, reply: next } = reply {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        reply = *next;
    }
    let head = |status: u16, len: usize, extra: &[(String, String)]| {
        let mut h = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n",
            reason(status)
        );
        for (k, v) in extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        h
    };
    match reply {
        FakeReply::Respond {
            status,
            headers,
            body,
        } => {
            let text = head(status, body.len(), &headers) + body.as_str();
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        FakeReply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        FakeReply::Truncated { body, declared } => {
            let text = head(200, declared, &[]) + body.as_str();
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.flush().await;
        }
        FakeReply::Close | FakeReply::Delayed { .. } => {}
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<FakeRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(FakeRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}
