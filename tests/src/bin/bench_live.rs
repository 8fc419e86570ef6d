#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Load driver of `scripts/bench-live` (issue #6, "Performance"): consultation messages
//! written through one API process and heard on a live socket held by the other.
//!
//! Setup, over HTTP: L lawyers (officials of the root organisation, profiles practising
//! `wage_arrears`, on duty), each logged in on process A; W = clients − L workers logged in
//! through process B's WeChat emulator, each asking one question of lawyer `i mod L` through
//! B, which that lawyer accepts through A. Then every worker opens `/api/v1/ws` on B and
//! every lawyer on A (`clients` sockets in all) and waits for its `ready` frame.
//!
//! Load: open loop at R messages a second for a warm-up and then the measured duration; send
//! k goes to consultation `k mod W`, written by its lawyer through A
//! (`POST /api/v1/admin/consultations/{id}/messages`) when k is even and by its worker through
//! B (`POST /api/v1/consultations/{id}/messages`, which WeChat's content check reads first)
//! when odd, as its own task, so a slow answer delays no later send. The text is `bench k`.
//! A send's latency runs from the start of its request to the moment the other participant's
//! socket, on the other process, reads the `consultation.message` frame with that text.
//! After the run the driver waits up to 5 s for stragglers; a 2xx send whose frame never
//! arrived counts as lost.
//!
//! usage: `bench-live --base-a URL --base-b URL --username NAME [--clients N (2000)]
//! [--lawyers L (100)] [--rate R (500)] [--duration SECS (20)] [--warmup SECS (5)]`, the
//! official's password on the first line of stdin. Progress goes to stderr; the result is
//! one JSON object on stdout.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "usage: bench-live --base-a URL --base-b URL --username NAME \
[--clients N (2000)] [--lawyers L (100)] [--rate R (500)] [--duration SECS (20)] [--warmup SECS (5)]
(the official's password on the first line of stdin; result JSON on stdout)";

/// Requests in flight at once during the setup.
const SETUP_CONCURRENCY: usize = 16;
/// The lawyers' password.
const LAWYER_PASSWORD: &str = "bench live lawyer password";

struct Args {
    a: String,
    b: String,
    username: String,
    password: String,
    clients: usize,
    lawyers: usize,
    rate: f64,
    duration: f64,
    warmup: f64,
}

fn parse_args() -> Args {
    let (mut a, mut b, mut username) = (None, None, None);
    let (mut clients, mut lawyers, mut rate, mut duration, mut warmup) =
        (2000.0, 100.0, 500.0, 20.0, 5.0);
    let fail = |msg: String| -> ! {
        eprintln!("bench-live: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .unwrap_or_else(|| fail(format!("{flag} needs a value")));
        let number = |v: &str| -> f64 {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n > 0.0)
                .unwrap_or_else(|| fail(format!("{flag}: not a positive number: {v}")))
        };
        match flag.as_str() {
            "--base-a" => a = Some(value.trim_end_matches('/').to_owned()),
            "--base-b" => b = Some(value.trim_end_matches('/').to_owned()),
            "--username" => username = Some(value),
            "--clients" => clients = number(&value),
            "--lawyers" => lawyers = number(&value),
            "--rate" => rate = number(&value),
            "--duration" => duration = number(&value),
            "--warmup" => warmup = number(&value),
            _ => fail(format!("unknown argument: {flag}")),
        }
    }
    let (clients, lawyers) = (clients as usize, lawyers as usize);
    if lawyers == 0 || clients <= lawyers || clients > 20_000 {
        fail(format!(
            "need 1 ≤ lawyers < clients ≤ 20000 (got {lawyers} lawyers, {clients} clients)"
        ));
    }
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password).unwrap();
    Args {
        a: a.unwrap_or_else(|| fail("--base-a is required".into())),
        b: b.unwrap_or_else(|| fail("--base-b is required".into())),
        username: username.unwrap_or_else(|| fail("--username is required".into())),
        password: password.trim_end_matches(['\r', '\n']).to_owned(),
        clients,
        lawyers,
        rate,
        duration,
        warmup,
    }
}

async fn call(
    http: &Client,
    url: String,
    method: reqwest::Method,
    body: Value,
    tok: Option<&str>,
) -> Value {
    let mut req = http.request(method, &url).json(&body);
    if let Some(t) = tok {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Runs `f(i)` for i in 0..n, `SETUP_CONCURRENCY` at a time, in order of i.
async fn each<F, Fut, T>(n: usize, f: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    futures_util::stream::iter((0..n).map(f))
        .buffered(SETUP_CONCURRENCY)
        .collect()
        .await
}

/// One participant: a token, the process its socket and writes go through.
struct Side {
    token: String,
    base: String,
    role: &'static str,
}

/// What the sockets heard.
struct Heard {
    /// Send start of message k (nanoseconds after `epoch`, + 1; 0 = not sent).
    sent: Vec<AtomicU64>,
    /// Latency of message k's delivery (nanoseconds + 1; 0 = not heard).
    heard: Vec<AtomicU64>,
    epoch: Instant,
    closed: AtomicUsize,
}

async fn open_socket(side: &Side, heard: Arc<Heard>) {
    let url = format!("{}/api/v1/ws", side.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", side.token).parse().unwrap(),
    );
    let (mut stream, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    match stream.next().await {
        Some(Ok(Message::Text(t))) if t.contains("\"ready\"") => {}
        other => panic!("no ready frame: {other:?}"),
    }
    let role = side.role;
    tokio::spawn(async move {
        while let Some(frame) = stream.next().await {
            let text = match frame {
                Ok(Message::Text(t)) => t,
                Ok(Message::Ping(p)) => {
                    let _ = stream.send(Message::Pong(p)).await;
                    continue;
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            if !text.starts_with(r#"{"type":"consultation.message""#) {
                continue;
            }
            let at = heard.epoch.elapsed().as_nanos() as u64;
            let v: Value = serde_json::from_str(&text).unwrap();
            let m = &v["message"];
            if m["author"] == role {
                continue;
            }
            let Some(k) = m["body"]
                .as_str()
                .and_then(|b| b.strip_prefix("bench "))
                .and_then(|k| k.parse::<usize>().ok())
            else {
                continue;
            };
            let sent = heard.sent[k].load(Ordering::Acquire);
            if sent > 0 {
                heard.heard[k].store(at.saturating_sub(sent - 1) + 1, Ordering::Release);
            }
        }
        heard.closed.fetch_add(1, Ordering::Relaxed);
    });
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1] as f64 / 1e6
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let http = Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let workers = args.clients - args.lawyers;
    let t0 = Instant::now();

    // Lawyers, on A.
    let login = call(
        &http,
        format!("{}/api/v1/admin/auth/login", args.a),
        reqwest::Method::POST,
        json!({ "username": args.username, "password": args.password }),
        None,
    )
    .await;
    let admin = login["access_token"].as_str().unwrap().to_owned();
    let org = login["account"]["org"]["id"].as_str().unwrap().to_owned();
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    eprintln!("bench-live: creating {} lawyers on A", args.lawyers);
    let lawyers = make_lawyers(&http, &args, &admin, &org, run).await;

    // Workers on B, each asking their lawyer, who accepts on A.
    eprintln!("bench-live: {workers} workers ask on B, their lawyers accept on A");
    let threads = ask_all(&http, &args, &lawyers, run, workers).await;

    let total = ((args.warmup + args.duration) * args.rate).ceil() as usize + 1;
    let heard = Arc::new(Heard {
        sent: (0..total).map(|_| AtomicU64::new(0)).collect(),
        heard: (0..total).map(|_| AtomicU64::new(0)).collect(),
        epoch: Instant::now(),
        closed: AtomicUsize::new(0),
    });
    eprintln!("bench-live: opening {} sockets", args.clients);
    let sides: Vec<Side> = threads
        .iter()
        .map(|(tok, _)| Side {
            token: tok.clone(),
            base: args.b.clone(),
            role: "worker",
        })
        .chain(lawyers.iter().map(|(tok, _)| Side {
            token: tok.clone(),
            base: args.a.clone(),
            role: "lawyer",
        }))
        .collect();
    each(sides.len(), |i| open_socket(&sides[i], Arc::clone(&heard))).await;
    let setup_secs = t0.elapsed().as_secs_f64();

    eprintln!(
        "bench-live: {} msg/s for {} s warm-up + {} s",
        args.rate, args.warmup, args.duration
    );
    let sent = send_load(&http, &args, &threads, &lawyers, &heard, total).await;
    let result = report(&args, workers, setup_secs, &sent, &heard, total);
    println!("{result}");
}

/// Creates `args.lawyers` lawyers on A, each with a profile, logged in and on duty:
/// `(access token, id)`.
async fn make_lawyers(
    http: &Client,
    args: &Args,
    admin: &String,
    org: &String,
    run: &str,
) -> Vec<(String, String)> {
    each(args.lawyers, |j| {
        let (a, admin, org) = (&args.a, admin, org);
        async move {
            let username = format!("bench.lawyer.{run}.{j}");
            let made = call(http, format!("{a}/api/v1/admin/officials"), reqwest::Method::POST,
                json!({ "username": username, "password": LAWYER_PASSWORD, "display_name": format!("律师{j}"),
                        "org_id": org, "role": "lawyer" }), Some(admin)).await;
            let id = made["id"].as_str().unwrap().to_owned();
            call(http, format!("{a}/api/v1/admin/lawyers/{id}"), reqwest::Method::PUT,
                json!({ "name": format!("律师{j}"), "law_firm": "压测律师事务所",
                        "licence_number": format!("1{:016}", j), "specialties": ["wage_arrears"],
                        "years_in_practice": 5 }), Some(admin)).await;
            let login = call(http, format!("{a}/api/v1/admin/auth/login"), reqwest::Method::POST,
                json!({ "username": username, "password": LAWYER_PASSWORD }), None).await;
            let tok = login["access_token"].as_str().unwrap().to_owned();
            call(http, format!("{a}/api/v1/admin/lawyers/me/duty"), reqwest::Method::PUT,
                json!({ "on_duty": true }), Some(&tok)).await;
            (tok, id)
        }
    })
    .await
}

/// Logs `workers` workers in on B; each asks its lawyer (round robin), who accepts on A:
/// `(worker token, consultation id)`.
async fn ask_all(
    http: &Client,
    args: &Args,
    lawyers: &[(String, String)],
    run: &str,
    workers: usize,
) -> Vec<(String, String)> {
    each(workers, |i| {
        let (a, b) = (&args.a, &args.b);
        async move {
            let login = call(
                http,
                format!("{b}/api/v1/auth/wechat/login"),
                reqwest::Method::POST,
                json!({ "code": format!("bench-live-{run}-{i}") }),
                None,
            )
            .await;
            let tok = login["access_token"].as_str().unwrap().to_owned();
            let (lawyer_tok, lawyer_id) = &lawyers[i % lawyers.len()];
            let asked = call(
                http,
                format!("{b}/api/v1/consultations"),
                reqwest::Method::POST,
                json!({ "category": "wage_arrears", "title": "工资拖欠",
                        "message": "老板拖欠工资，怎么办？", "lawyer_id": lawyer_id }),
                Some(&tok),
            )
            .await;
            let id = asked["id"].as_str().unwrap().to_owned();
            call(
                http,
                format!("{a}/api/v1/admin/consultations/{id}/accept"),
                reqwest::Method::POST,
                json!({}),
                Some(lawyer_tok),
            )
            .await;
            (tok, id)
        }
    })
    .await
}

/// What the sending loop saw: 2xx answers, failures, and how long sending took.
struct Sent {
    ok: usize,
    failures: Vec<String>,
    sending_secs: f64,
}

/// Sends message k at k / rate seconds, lawyers (on A) and workers (on B) in turn, and waits
/// up to 5 s for stragglers to be heard.
async fn send_load(
    http: &Client,
    args: &Args,
    threads: &[(String, String)],
    lawyers: &[(String, String)],
    heard: &Arc<Heard>,
    total: usize,
) -> Sent {
    let workers = threads.len();
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let ok = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for k in 0..total - 1 {
        tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 / args.rate)).await;
        let (consultation_tok, id) = &threads[k % workers];
        let lawyer_tok = &lawyers[(k % workers) % lawyers.len()].0;
        let (url, tok) = if k % 2 == 0 {
            (
                format!("{}/api/v1/admin/consultations/{id}/messages", args.a),
                lawyer_tok.clone(),
            )
        } else {
            (
                format!("{}/api/v1/consultations/{id}/messages", args.b),
                consultation_tok.clone(),
            )
        };
        let (http, heard, failures, ok) = (
            http.clone(),
            Arc::clone(heard),
            Arc::clone(&failures),
            Arc::clone(&ok),
        );
        tasks.push(tokio::spawn(async move {
            heard.sent[k].store(
                heard.epoch.elapsed().as_nanos() as u64 + 1,
                Ordering::Release,
            );
            let resp = http
                .post(&url)
                .bearer_auth(&tok)
                .json(&json!({ "text": format!("bench {k}") }))
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == StatusCode::OK => {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    failures.lock().unwrap().push(format!("{status} {body}"));
                    heard.sent[k].store(0, Ordering::Release);
                }
                Err(e) => {
                    failures.lock().unwrap().push(e.to_string());
                    heard.sent[k].store(0, Ordering::Release);
                }
            }
        }));
    }
    let sending_secs = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while unheard(heard, total) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failures = failures.lock().unwrap().clone();
    Sent {
        ok: ok.load(Ordering::Relaxed),
        failures,
        sending_secs,
    }
}

/// Messages sent but not (yet) heard.
fn unheard(heard: &Heard, total: usize) -> usize {
    (0..total - 1)
        .filter(|&k| {
            heard.sent[k].load(Ordering::Acquire) > 0 && heard.heard[k].load(Ordering::Acquire) == 0
        })
        .count()
}

/// The one JSON object the driver prints: counts and latency percentiles of the measured
/// messages (those after the warm-up).
fn report(
    args: &Args,
    workers: usize,
    setup_secs: f64,
    sent: &Sent,
    heard: &Heard,
    total: usize,
) -> Value {
    let first_measured = (args.warmup * args.rate).ceil() as usize;
    let mut latencies: Vec<u64> = (first_measured..total - 1)
        .filter(|&k| heard.sent[k].load(Ordering::Acquire) > 0)
        .filter_map(|k| match heard.heard[k].load(Ordering::Acquire) {
            0 => None,
            ns => Some(ns - 1),
        })
        .collect();
    latencies.sort_unstable();
    let measured_sent = (first_measured..total - 1)
        .filter(|&k| heard.sent[k].load(Ordering::Acquire) > 0)
        .count();
    json!({
        "clients": args.clients,
        "lawyers": args.lawyers,
        "workers": workers,
        "rate": args.rate,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "setup_s": (setup_secs * 10.0).round() / 10.0,
        "sending_s": (sent.sending_secs * 100.0).round() / 100.0,
        "sent_2xx": sent.ok,
        "failed": sent.failures.len(),
        "failure_samples": sent.failures.iter().take(5).collect::<Vec<_>>(),
        "measured_sent": measured_sent,
        "measured_heard": latencies.len(),
        "lost": unheard(heard, total),
        "sockets_closed": heard.closed.load(Ordering::Relaxed),
        "p50_ms": percentile(&latencies, 50.0),
        "p90_ms": percentile(&latencies, 90.0),
        "p99_ms": percentile(&latencies, 99.0),
        "p999_ms": percentile(&latencies, 99.9),
        "max_ms": latencies.last().map_or(0.0, |&n| n as f64 / 1e6),
    })
}
