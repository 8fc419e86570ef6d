#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Load driver of `scripts/bench-claims` (issue #5, "Performance"): mutual-aid claim
//! submission over HTTP against a running `yiwang serve`.
//!
//! Setup (over HTTP, as an official and as workers logged in through the WeChat emulator): an
//! organisation that accepts individuals below the official's root, a plan of that
//! organisation with no required documents and no waiting period whose enrolment is open
//! today (China time), and N workers who each apply for membership (a distinct resident ID
//! number and phone), are approved, enrol, and have their fee recorded (`paid_by_union`, up to
//! 500 enrolments a request).
//!
//! Load: C tasks; task i files claims for workers i, i + C, i + 2C, … in turn, so no two tasks
//! ever act for the same worker at once. One transaction files a claim of three lines with
//! invoice numbers never used before and the payee, with a fresh `Idempotency-Key`:
//! - `--flow one-request` (the default): `POST /api/v1/mutual-aid/claims` with
//!   `"submit": true`, which answers the submitted claim;
//! - `--flow two-requests`: the same `POST` without `"submit"` (a draft), then
//!   `POST /api/v1/mutual-aid/claims/{id}/submit`.
//!
//! A transaction counts when its answers are 2xx and the claim is `submitted`; its latency runs
//! from the start of the first request to the end of the last. A warm-up phase of the same
//! shape runs first; it is not reported, but the claims it files are counted, so
//! `creates_2xx` (claims created) and `submits_2xx` (claims submitted) are every 2xx the
//! server gave.
//!
//! With `--server-pid`, the CPU time of the measured run is split from `/proc` (Linux): the
//! server, this driver, every process named `postgres`, the rest, idle. With `--phase-file`,
//! the driver writes the phase it is in (`setup`, `warmup`, `measure`, `done`) to that file,
//! so a sampler outside can look at the measured run only.
//!
//! usage: `bench-claims --base-url URL --username NAME [--flow FLOW] [--workers N] [--clients C]
//! [--duration SECS] [--warmup SECS] [--setup-concurrency K] [--server-pid PID]
//! [--phase-file PATH]`, the official's password on the first line of stdin. Progress goes to
//! stderr; the result is one JSON object on stdout.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use yiwang_tests::cpu::{cpu_shares, round2, ticks};
use yiwang_tests::id_number;

const USAGE: &str = "usage: bench-claims --base-url URL --username NAME \
[--flow one-request|two-requests (one-request)] [--workers N (256)] [--clients C (64)] [--duration SECS (20)] [--warmup SECS (5)] [--setup-concurrency K (16)]
[--server-pid PID] [--phase-file PATH] [--relay-rate EVENTS_PER_S --database-url URL]
(the official's password on the first line of stdin; result JSON on stdout)";

/// Most enrolments in one fee request (the API's limit).
const PAYMENT_BATCH: usize = 500;
/// Error bodies printed per phase.
const SAMPLES: usize = 5;
/// A valid unified social credit code (GB 32100-2015), as the API tests use.
const CREDIT_CODE: &str = "91350100M000100Y43";

/// How a claim is filed (`--flow`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Created with `"submit": true`.
    OneRequest,
    /// Created as a draft, then submitted.
    TwoRequests,
}

impl Flow {
    fn as_str(self) -> &'static str {
        match self {
            Flow::OneRequest => "one-request",
            Flow::TwoRequests => "two-requests",
        }
    }
}

struct Args {
    base: String,
    flow: Flow,
    username: String,
    password: String,
    workers: usize,
    clients: usize,
    duration: Duration,
    warmup: Duration,
    setup_concurrency: usize,
    server_pid: Option<u32>,
    phase_file: Option<String>,
    /// Outbox events a second written beside the claim load (`--relay-rate`), 0: none.
    relay_rate: f64,
    /// The server's database, for writing and reading those events (`--database-url`).
    database_url: Option<String>,
}

fn parse_args() -> Args {
    let mut base = None;
    let mut flow = Flow::OneRequest;
    let mut username = None;
    let mut server_pid = None;
    let mut phase_file = None;
    let mut relay_rate = 0.0;
    let mut database_url = None;
    let (mut workers, mut clients, mut duration, mut warmup, mut setup) = (256, 64, 20.0, 5.0, 16);
    let mut it = std::env::args().skip(1);
    let fail = |msg: String| -> ! {
        eprintln!("bench-claims: {msg}\n{USAGE}");
        std::process::exit(2)
    };
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
                .filter(|n| n.is_finite() && *n >= 0.0)
                .unwrap_or_else(|| fail(format!("{flag}: not a number: {v}")))
        };
        match flag.as_str() {
            "--base-url" => base = Some(value.trim_end_matches('/').to_owned()),
            "--username" => username = Some(value),
            "--flow" => {
                flow = match value.as_str() {
                    "one-request" => Flow::OneRequest,
                    "two-requests" => Flow::TwoRequests,
                    _ => fail(format!("--flow: one-request or two-requests, not {value}")),
                }
            }
            "--workers" => workers = number(&value) as usize,
            "--clients" => clients = number(&value) as usize,
            "--duration" => duration = number(&value),
            "--warmup" => warmup = number(&value),
            "--setup-concurrency" => setup = number(&value) as usize,
            "--server-pid" => server_pid = Some(number(&value) as u32),
            "--phase-file" => phase_file = Some(value),
            "--relay-rate" => relay_rate = number(&value),
            "--database-url" => database_url = Some(value),
            _ => fail(format!("unknown argument: {flag}")),
        }
    }
    let base = base.unwrap_or_else(|| fail("--base-url is required".into()));
    let username = username.unwrap_or_else(|| fail("--username is required".into()));
    if clients == 0 || workers < clients || workers > 100_000 {
        fail(format!(
            "need 1 ≤ clients ≤ workers ≤ 100000 (got {clients} clients, {workers} workers)"
        ));
    }
    if relay_rate > 0.0 && database_url.is_none() {
        fail("--relay-rate needs --database-url".into());
    }
    if duration <= 0.0 || setup == 0 {
        fail("--duration and --setup-concurrency must be positive".into());
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .expect("read the password from stdin");
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        fail("the official's password must be on the first line of stdin".into());
    }
    Args {
        base,
        flow,
        username,
        password,
        workers,
        clients,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
        setup_concurrency: setup,
        server_pid,
        phase_file,
        relay_rate,
        database_url,
    }
}

/// Writes the phase to `--phase-file`, if given.
fn mark(args: &Args, phase: &str) {
    if let Some(path) = &args.phase_file {
        if let Err(e) = std::fs::write(path, format!("{phase}\n")) {
            eprintln!("bench-claims: cannot write {path}: {e}");
        }
    }
}

/// Today in China Standard Time (UTC+8), `days` away.
fn china_day(days: i64) -> NaiveDate {
    let today = (Utc::now() + chrono::TimeDelta::hours(8)).date_naive();
    if days >= 0 {
        today + Days::new(days.unsigned_abs())
    } else {
        today - Days::new(days.unsigned_abs())
    }
}

/// Worker `i`'s ID number: 北京市朝阳区 (110105), born on 1985-01-01 plus i / 1000 days,
/// sequence i % 1000 — distinct for every i below 100,000 (born before 1985-04-11).
fn person(i: usize) -> String {
    let born = NaiveDate::from_ymd_opt(1985, 1, 1).unwrap() + Days::new((i / 1000) as u64);
    id_number(&format!("110105{}{:03}", born.format("%Y%m%d"), i % 1000))
}

/// Worker `i`'s mobile number (distinct for every i below 100,000,000).
fn phone(i: usize) -> String {
    format!("139{i:08}")
}

/// One HTTP answer: status and body text.
struct Answer {
    status: StatusCode,
    body: String,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status.is_success()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    /// `409 duplicate_invoice` and the like, for the error tally.
    fn kind(&self) -> String {
        let code = self.json()["code"].as_str().unwrap_or("").to_owned();
        format!("{} {code}", self.status.as_u16()).trim().to_owned()
    }
}

#[derive(Clone)]
struct Api {
    client: Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        Ok(Answer { status, body })
    }

    /// A setup call that must answer `want`; its JSON body.
    async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        want: StatusCode,
    ) -> Value {
        let what = format!("{method} {path}");
        let a = self
            .call(method, path, token, body, None)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(a.status, want, "{what} answered {}: {}", a.status, a.body);
        a.json()
    }
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// A worker ready to claim.
struct Worker {
    token: String,
    enrollment: String,
    /// Their account id, for the relay load's events.
    account: String,
}

/// The plan: the 晋城 rules of the API tests (50 %, second review from 10,000 yuan), with no
/// required documents and no waiting period; plan year and enrolment around today.
fn plan_form(org_id: &str) -> Value {
    json!({
        "org_id": org_id,
        "name": "压测互助计划 (bench)",
        "starts_on": china_day(-30).to_string(),
        "ends_on": china_day(300).to_string(),
        "enrolment_opens_on": china_day(-30).to_string(),
        "enrolment_closes_on": china_day(30).to_string(),
        "fee_fen": 5_000,
        "waiting_days": 0,
        "second_review_from_fen": 1_000_000,
        "benefits": [
            { "kind": "inpatient", "threshold_fen": 900_000, "deductible_fen": 0,
              "rate_basis_points": 5_000, "minimum_fen": 30_000, "maximum_fen": 3_000_000,
              "annual_cap_fen": 6_000_000, "required_documents": [] },
            { "kind": "chronic", "threshold_fen": 500_000, "deductible_fen": 0,
              "rate_basis_points": 5_000, "minimum_fen": 30_000, "maximum_fen": 1_000_000,
              "annual_cap_fen": 2_000_000, "required_documents": [] }
        ]
    })
}

/// Logs worker `i` in, has them apply, approves, enrols: the worker (fee not yet recorded).
async fn prepare_worker(
    api: &Api,
    admin: &str,
    org_id: &str,
    notice_version: &str,
    plan_id: &str,
    i: usize,
) -> Worker {
    let login = api
        .expect(
            Method::POST,
            "/api/v1/auth/wechat/login",
            None,
            Some(&json!({ "code": format!("bench-{i}.1") })),
            StatusCode::OK,
        )
        .await;
    let token = login["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {login}"))
        .to_owned();
    let form = json!({
        "real_name": "王建军",
        "id_number": person(i),
        "phone": phone(i),
        "employer_name": "顺丰速运郑州分公司",
        "credit_code": CREDIT_CODE,
        "industry": "快递物流",
        "employment_form": "courier",
        "city": "郑州市",
        "org_id": org_id,
        "consent": { "accepted": true, "version": notice_version },
    });
    let app = id_of(
        &api.expect(
            Method::POST,
            "/api/v1/membership/applications",
            Some(&token),
            Some(&form),
            StatusCode::CREATED,
        )
        .await,
    );
    let approved = api
        .expect(
            Method::POST,
            &format!("/api/v1/admin/membership/applications/{app}/approve"),
            Some(admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(approved["application"]["status"], "approved", "{approved}");
    let enrollment = id_of(
        &api.expect(
            Method::POST,
            "/api/v1/mutual-aid/enrollments",
            Some(&token),
            Some(&json!({ "plan_id": plan_id })),
            StatusCode::CREATED,
        )
        .await,
    );
    let account = login["account"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no account.id in {login}"))
        .to_owned();
    Worker {
        token,
        enrollment,
        account,
    }
}

/// What one load task saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    /// When each transaction ended, seconds since the phase started.
    ended_s: Vec<u32>,
    creates_2xx: u64,
    submits_2xx: u64,
    errors: BTreeMap<String, u64>,
    samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, what: String, sample: String) {
        *self.errors.entry(what).or_default() += 1;
        if self.samples.len() < SAMPLES {
            self.samples.push(sample);
        }
    }
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.ended_s.extend(other.ended_s);
        self.creates_2xx += other.creates_2xx;
        self.submits_2xx += other.submits_2xx;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
        for s in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
        }
    }
    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A line of `yuan`, 20 % paid by insurance and 80 % out of pocket, treated today.
fn line(invoice: String, yuan: i64) -> Value {
    let total = yuan * 100;
    json!({
        "hospital": "晋城市人民医院", "invoice_number": invoice,
        "treated_on": china_day(0).to_string(), "kind": "inpatient",
        "total_fen": total, "insurance_fen": total / 5, "out_of_pocket_fen": total - total / 5,
    })
}

fn payee() -> Value {
    json!({ "account_name": "王建军", "bank": "中国工商银行晋城分行",
            "account_number": "6222 0212 3456 7890 123" })
}

/// One request of a transaction (`what`: create or submit) as worker `w`: the 2xx answer, or
/// `None` with the failure tallied.
async fn step(
    api: &Api,
    tally: &mut Tally,
    what: &str,
    path: &str,
    w: &Worker,
    body: Option<&Value>,
    key: &str,
) -> Option<Answer> {
    match api
        .call(Method::POST, path, Some(&w.token), body, Some(key))
        .await
    {
        Ok(a) if a.ok() => Some(a),
        Ok(a) => {
            tally.error(
                format!("{what} {}", a.kind()),
                format!("{what}: {} {}", a.status, a.body),
            );
            None
        }
        Err(e) => {
            tally.error(format!("{what} transport"), format!("{what}: {e}"));
            None
        }
    }
}

/// One load task of phase `phase` (`W` warm-up, `M` measured) until `deadline`.
#[allow(clippy::too_many_arguments)]
async fn load_task(
    api: Api,
    flow: Flow,
    workers: Arc<Vec<Worker>>,
    task: usize,
    clients: usize,
    phase: &'static str,
    phase_start: Instant,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mine: Vec<usize> = (task..workers.len()).step_by(clients).collect();
    let mut seq: u64 = 0;
    while Instant::now() < deadline {
        let w = &workers[mine[(seq as usize) % mine.len()]];
        seq += 1;
        let body = json!({
            "enrollment_id": w.enrollment,
            "lines": [
                // Fixed widths: invoice numbers are compared without their separators
                // (`BENCH-M1-12-1` and `BENCH-M11-2-1` are one number).
                line(format!("BENCH-{phase}{task:04}-{seq:09}-1"), 3_000),
                line(format!("BENCH-{phase}{task:04}-{seq:09}-2"), 2_000),
                line(format!("BENCH-{phase}{task:04}-{seq:09}-3"), 1_000),
            ],
            "payee": payee(),
            "submit": flow == Flow::OneRequest,
        });
        let start = Instant::now();
        let key = uuid::Uuid::new_v4().to_string();
        let claims = "/api/v1/mutual-aid/claims";
        let Some(created) = step(&api, &mut tally, "create", claims, w, Some(&body), &key).await
        else {
            continue;
        };
        tally.creates_2xx += 1;
        let submitted = match flow {
            Flow::OneRequest => created,
            Flow::TwoRequests => {
                let Some(claim) = created.json()["id"].as_str().map(str::to_owned) else {
                    tally.error(
                        "create without id".into(),
                        format!("create: {}", created.body),
                    );
                    continue;
                };
                let path = format!("{claims}/{claim}/submit");
                match step(&api, &mut tally, "submit", &path, w, None, &key).await {
                    Some(a) => a,
                    None => continue,
                }
            }
        };
        let status = submitted.json()["status"].as_str().unwrap_or("").to_owned();
        if status == "submitted" {
            tally.submits_2xx += 1;
            tally.latencies_us.push(start.elapsed().as_micros() as u64);
            tally.ended_s.push(phase_start.elapsed().as_secs() as u32);
        } else {
            tally.error(
                format!("2xx with status '{status}'"),
                format!("{} {}", submitted.status, submitted.body),
            );
        }
    }
    tally
}

/// Runs `clients` load tasks for `length`; the merged tally and the elapsed time (until the
/// last task finished its last transaction).
async fn phase(
    api: &Api,
    flow: Flow,
    workers: &Arc<Vec<Worker>>,
    clients: usize,
    name: &'static str,
    length: Duration,
) -> (Tally, Duration) {
    let start = Instant::now();
    let deadline = start + length;
    let tasks: Vec<_> = (0..clients)
        .map(|t| {
            tokio::spawn(load_task(
                api.clone(),
                flow,
                Arc::clone(workers),
                t,
                clients,
                name,
                start,
                deadline,
            ))
        })
        .collect();
    let mut tally = Tally::default();
    for t in tasks {
        tally.merge(t.await.expect("a load task panicked"));
    }
    (tally, start.elapsed())
}

/// The `q`-quantile (nearest rank) of sorted micro-seconds, in milliseconds.
fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let client = Client::builder()
        .timeout(Duration::from_secs(120))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.clients.max(args.setup_concurrency) * 2)
        .build()
        .expect("HTTP client");
    let api = Api {
        client,
        base: args.base.clone(),
    };

    mark(&args, "setup");
    let prepared = setup(&api, &args).await;
    if args.relay_rate > 0.0 {
        relay::subscribe_all(&api, &args, &prepared.admin, &prepared.workers).await;
    }
    let accounts: Vec<String> = prepared.workers.iter().map(|w| w.account.clone()).collect();
    let workers = Arc::new(prepared.workers);
    let injector = (args.relay_rate > 0.0).then(|| {
        let url = args.database_url.clone().unwrap_or_default();
        let deadline = Instant::now() + args.warmup + args.duration;
        relay::inject(url, accounts, args.relay_rate, deadline)
    });

    let mut warm = Tally::default();
    let mut warm_elapsed = Duration::ZERO;
    if !args.warmup.is_zero() {
        mark(&args, "warmup");
        eprintln!(
            "bench-claims: warm-up, {} clients, {:.0} s (not reported)",
            args.clients,
            args.warmup.as_secs_f64()
        );
        (warm, warm_elapsed) =
            phase(&api, args.flow, &workers, args.clients, "W", args.warmup).await;
        for s in &warm.samples {
            eprintln!("bench-claims: warm-up error: {s}");
        }
    }
    eprintln!(
        "bench-claims: measuring, {} clients, {:.0} s",
        args.clients,
        args.duration.as_secs_f64()
    );
    mark(&args, "measure");
    let before = args.server_pid.map(ticks);
    let measure_from = Utc::now();
    let (run, elapsed) = phase(&api, args.flow, &workers, args.clients, "M", args.duration).await;
    let measure_to = Utc::now();
    let cpu = match (args.server_pid, before) {
        (Some(pid), Some(before)) => cpu_shares(&before, &ticks(pid)),
        _ => Value::Null,
    };
    mark(&args, "done");
    for s in &run.samples {
        eprintln!("bench-claims: error: {s}");
    }
    let measured = Measured {
        warm,
        warm_elapsed,
        run,
        elapsed,
        cpu,
    };
    let mut result = report(&args, &prepared.ids, prepared.took, measured);
    if let Some(injector) = injector {
        let injected = injector.await.expect("the event injector panicked");
        let url = args.database_url.clone().unwrap_or_default();
        result["relay"] = relay::measure(url, injected, measure_from, measure_to).await;
    }
    println!("{result}");
}

/// What the setup made: the organisation and plan (`ids`), the enrolled and paid members.
struct Prepared {
    ids: (String, String),
    /// The official's access token.
    admin: String,
    workers: Vec<Worker>,
    took: Duration,
}

/// The organisation, the plan and `args.workers` members enrolled with their fee recorded.
async fn setup(api: &Api, args: &Args) -> Prepared {
    let setup_start = Instant::now();
    let login = api
        .expect(
            Method::POST,
            "/api/v1/admin/auth/login",
            None,
            Some(&json!({ "username": args.username, "password": args.password })),
            StatusCode::OK,
        )
        .await;
    let admin = login["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let root = login["account"]["org"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no account.org.id in the login answer: {login}"))
        .to_owned();
    let notice = api
        .expect(
            Method::GET,
            "/api/v1/membership/privacy-notice",
            None,
            None,
            StatusCode::OK,
        )
        .await;
    let version = notice["version"]
        .as_str()
        .expect("notice version")
        .to_owned();
    let org = id_of(
        &api.expect(
            Method::POST,
            "/api/v1/admin/orgs",
            Some(&admin),
            Some(&json!({
                "parent_id": root, "name": "压测快递行业联合工会", "kind": "joint_union",
                "accepts_individuals": true, "city": "郑州市",
            })),
            StatusCode::CREATED,
        )
        .await,
    );
    let plan = id_of(
        &api.expect(
            Method::POST,
            "/api/v1/admin/mutual-aid/plans",
            Some(&admin),
            Some(&plan_form(&org)),
            StatusCode::CREATED,
        )
        .await,
    );
    eprintln!(
        "bench-claims: org {org}, plan {plan}; preparing {} workers ({} at a time)",
        args.workers, args.setup_concurrency
    );
    let workers = prepare_all(api, args, [&admin, &org, &version, &plan]).await;
    pay_all(api, &admin, &workers).await;
    let took = setup_start.elapsed();
    eprintln!(
        "bench-claims: setup done in {:.1} s: {} members enrolled and paid",
        took.as_secs_f64(),
        workers.len()
    );
    Prepared {
        ids: (org, plan),
        admin: admin.clone(),
        workers,
        took,
    }
}

/// Prepares the workers, `args.setup_concurrency` at a time, in index order; `context` is
/// the official's token, the organisation, the privacy-notice version and the plan.
async fn prepare_all(api: &Api, args: &Args, context: [&String; 4]) -> Vec<Worker> {
    let [admin, org, version, plan] = context;
    let k = args.setup_concurrency.min(args.workers);
    let preparers: Vec<_> = (0..k)
        .map(|j| {
            let (api, admin, org, version, plan) = (
                api.clone(),
                admin.clone(),
                org.clone(),
                version.clone(),
                plan.clone(),
            );
            let n = args.workers;
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in (j..n).step_by(k) {
                    out.push((
                        i,
                        prepare_worker(&api, &admin, &org, &version, &plan, i).await,
                    ));
                }
                out
            })
        })
        .collect();
    let mut prepared: Vec<(usize, Worker)> = Vec::with_capacity(args.workers);
    for p in preparers {
        prepared.extend(p.await.expect("a setup task panicked"));
    }
    prepared.sort_by_key(|(i, _)| *i);
    prepared.into_iter().map(|(_, w)| w).collect()
}

/// Records the fee of every worker's enrolment (`paid_by_union`), a batch a request.
async fn pay_all(api: &Api, admin: &str, workers: &[Worker]) {
    for chunk in workers.chunks(PAYMENT_BATCH) {
        let ids: Vec<&str> = chunk.iter().map(|w| w.enrollment.as_str()).collect();
        let paid = api
            .expect(
                Method::POST,
                "/api/v1/admin/mutual-aid/enrollments/payments",
                Some(admin),
                Some(&json!({ "enrollment_ids": ids, "method": "paid_by_union" })),
                StatusCode::OK,
            )
            .await;
        let items = paid["items"].as_array().expect("payment items");
        assert_eq!(items.len(), chunk.len(), "{paid}");
        for item in items {
            assert_eq!(item["enrollment"]["status"], "active", "{item}");
        }
    }
}

/// The two timed phases and the CPU split of the measured one.
struct Measured {
    warm: Tally,
    warm_elapsed: Duration,
    run: Tally,
    elapsed: Duration,
    cpu: Value,
}

/// The one JSON object the driver prints.
fn report(args: &Args, ids: &(String, String), setup: Duration, m: Measured) -> Value {
    let Measured {
        warm,
        warm_elapsed,
        mut run,
        elapsed,
        cpu,
    } = m;
    let (org, plan) = ids;
    run.latencies_us.sort_unstable();
    let lat = &run.latencies_us;
    let transactions = lat.len() as u64;
    // Completed transactions per 5-second window of the measured run (the last one may be
    // short: it holds what ended after the deadline too).
    let windows = (args.duration.as_secs() as usize).div_ceil(5).max(1);
    let mut per_window = vec![0u64; windows];
    for s in &run.ended_s {
        per_window[(*s as usize / 5).min(windows - 1)] += 1;
    }
    let tps_by_5s: Vec<f64> = per_window.iter().map(|n| round2(*n as f64 / 5.0)).collect();
    let tps = transactions as f64 / elapsed.as_secs_f64();
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().sum::<u64>() as f64 / lat.len() as f64 / 1000.0
    };
    let mut errors_by_kind = warm.errors.clone();
    for (kind, n) in &run.errors {
        *errors_by_kind.entry(kind.clone()).or_default() += n;
    }
    json!({
        "base_url": args.base,
        "flow": args.flow.as_str(),
        "workers": args.workers,
        "clients": args.clients,
        "duration_s": round2(args.duration.as_secs_f64()),
        "warmup_s": round2(args.warmup.as_secs_f64()),
        "elapsed_s": round2(elapsed.as_secs_f64()),
        "setup_s": round2(setup.as_secs_f64()),
        "org_id": org,
        "plan_id": plan,
        "transactions": transactions,
        "tps": round2(tps),
        "mean_ms": round2(mean),
        "p50_ms": round2(quantile_ms(lat, 0.50)),
        "p90_ms": round2(quantile_ms(lat, 0.90)),
        "p99_ms": round2(quantile_ms(lat, 0.99)),
        "max_ms": round2(quantile_ms(lat, 1.0)),
        "tps_by_5s": tps_by_5s,
        "creates_2xx": warm.creates_2xx + run.creates_2xx,
        "submits_2xx": warm.submits_2xx + run.submits_2xx,
        "errors": warm.error_count() + run.error_count(),
        "errors_by_kind": errors_by_kind,
        "cpu": cpu,
        "measured": {
            "creates_2xx": run.creates_2xx,
            "submits_2xx": run.submits_2xx,
            "errors": run.error_count(),
        },
        "warmup": {
            "transactions": warm.latencies_us.len(),
            "elapsed_s": round2(warm_elapsed.as_secs_f64()),
            "creates_2xx": warm.creates_2xx,
            "submits_2xx": warm.submits_2xx,
            "errors": warm.error_count(),
        },
    })
}

/// The relay load (issue 20): `--relay-rate` outbox events a second, beside the claim load,
/// each a `mutual_aid.claim.paid` for one of the members (round robin) — the row a payment's
/// transaction writes, written straight into the outbox (the decision's HTTP path is not what
/// is measured). The topic has a subscribe template and the members have subscriptions, so
/// each event goes through the relay to the inbox, the live socket and WeChat (the emulator).
mod relay {
    use std::time::{Duration, Instant};

    use chrono::{DateTime, NaiveDateTime, Utc};
    use diesel::prelude::*;
    use reqwest::{Method, StatusCode};
    use serde_json::{json, Value};
    use yiwang_infra::db::schema::{notifications, outbox, subscribe_sends};
    use yiwang_infra::db::{connect_once, DbConnection};

    use super::{round2, Api, Args, Worker};

    /// The topic of the events.
    const TOPIC: &str = "mutual_aid.claim.paid";
    /// The template id the setup saves.
    const TEMPLATE: &str = "bench-claim-paid";
    /// Most subscriptions the server counts per worker and template.
    const MAX_SUBSCRIPTIONS: usize = 50;

    /// Saves the template and has every worker accept it as often as the run will spend.
    pub(super) async fn subscribe_all(api: &Api, args: &Args, admin: &str, workers: &[Worker]) {
        api.expect(
            Method::PUT,
            &format!("/api/v1/admin/notification-templates/{TOPIC}"),
            Some(admin),
            Some(&json!({ "template_id": TEMPLATE, "page": "pages/claim/detail?id={id}",
                          "data": { "thing1": "{title}", "amount2": "{amount}", "time3": "{time}" } })),
            StatusCode::OK,
        )
        .await;
        let events = args.relay_rate * (args.warmup + args.duration).as_secs_f64();
        let each = ((events / workers.len() as f64).ceil() as usize + 1).min(MAX_SUBSCRIPTIONS);
        eprintln!(
            "bench-claims: {} workers accept the template {each} times each",
            workers.len()
        );
        let k = args.setup_concurrency.min(workers.len());
        let tokens: Vec<String> = workers.iter().map(|w| w.token.clone()).collect();
        let tasks: Vec<_> = (0..k)
            .map(|j| {
                let (api, tokens) = (api.clone(), tokens.clone());
                tokio::spawn(async move {
                    for token in tokens.iter().skip(j).step_by(k) {
                        for _ in 0..each {
                            api.expect(
                                Method::POST,
                                "/api/v1/me/subscriptions",
                                Some(token),
                                Some(&json!({ TEMPLATE: "accept" })),
                                StatusCode::OK,
                            )
                            .await;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("a subscription task panicked");
        }
    }

    /// What the injector wrote.
    pub(super) struct Injected {
        events: u64,
        took: Duration,
    }

    /// Writes `rate` events a second until `deadline`, every 10 ms the events due by then, on
    /// its own connection: the events written and how long it ran.
    pub(super) fn inject(
        url: String,
        accounts: Vec<String>,
        rate: f64,
        deadline: Instant,
    ) -> tokio::task::JoinHandle<Injected> {
        tokio::task::spawn_blocking(move || {
            let mut conn = connect_once(&url).expect("connect to the bench database");
            let start = Instant::now();
            let mut written: u64 = 0;
            while Instant::now() < deadline {
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                while written < due {
                    let account = &accounts[written as usize % accounts.len()];
                    let payload = json!({
                        "id": uuid::Uuid::now_v7(), "account_id": account,
                        "transition": { "from": "approved", "to": "paid", "paid_fen": 1_150_000 },
                    });
                    let row = (
                        outbox::id.eq(uuid::Uuid::now_v7().to_string()),
                        outbox::topic.eq(TOPIC),
                        outbox::payload.eq(payload.to_string()),
                        outbox::created_at.eq(Utc::now().naive_utc()),
                        outbox::attempts.eq(0),
                    );
                    let insert = diesel::insert_into(outbox::table).values(row);
                    match &mut conn {
                        DbConnection::Pg(pg) => insert.execute(pg),
                        DbConnection::Sqlite(lite) => insert.execute(lite),
                    }
                    .expect("write an outbox event");
                    written += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Injected {
                events: written,
                took: start.elapsed(),
            }
        })
    }

    /// The `q`-quantile (nearest rank) of sorted values.
    fn quantile(sorted: &[f64], q: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// After the run: waits (up to 120 s) until every injected event is handled, then reads
    /// each event's lag (`published_at − created_at`: written to handled by every consumer),
    /// the events of every topic handled in the measured window, the WeChat messages sent and
    /// the notifications stored.
    pub(super) async fn measure(
        url: String,
        injected: Injected,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Value {
        tokio::task::spawn_blocking(move || {
            let mut c = connect_once(&url).expect("connect to the bench database");
            let waited = Instant::now();
            loop {
                let left: i64 = outbox::table
                    .filter(outbox::published_at.is_null())
                    .count()
                    .get_result(&mut c)
                    .expect("count unhandled events");
                if left == 0 || waited.elapsed() > Duration::from_secs(120) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let (from, to) = (from.naive_utc(), to.naive_utc());
            let rows: Vec<(NaiveDateTime, Option<NaiveDateTime>)> = outbox::table
                .filter(outbox::topic.eq(TOPIC))
                .filter(outbox::created_at.ge(from))
                .filter(outbox::created_at.lt(to))
                .select((outbox::created_at, outbox::published_at))
                .load(&mut c)
                .expect("read the events");
            let unhandled = rows.iter().filter(|(_, p)| p.is_none()).count();
            let mut lags: Vec<f64> = rows
                .iter()
                .filter_map(|(c, p)| {
                    p.map(|p| (p - *c).num_microseconds().unwrap_or(0) as f64 / 1000.0)
                })
                .collect();
            lags.sort_by(f64::total_cmp);
            let handled_in_window: i64 = outbox::table
                .filter(outbox::published_at.ge(from))
                .filter(outbox::published_at.lt(to))
                .count()
                .get_result(&mut c)
                .expect("count handled events");
            let sent: i64 = subscribe_sends::table
                .filter(subscribe_sends::outcome.eq("sent"))
                .count()
                .get_result(&mut c)
                .expect("count sends");
            let stored: i64 = notifications::table
                .count()
                .get_result(&mut c)
                .expect("count notifications");
            let seconds = (to - from).num_milliseconds() as f64 / 1000.0;
            json!({
                "injected": injected.events,
                "injected_per_s": round2(injected.events as f64 / injected.took.as_secs_f64()),
                "measured_events": rows.len(),
                "unhandled": unhandled,
                "lag_p50_ms": round2(quantile(&lags, 0.50)),
                "lag_p90_ms": round2(quantile(&lags, 0.90)),
                "lag_p99_ms": round2(quantile(&lags, 0.99)),
                "lag_max_ms": round2(quantile(&lags, 1.0)),
                "handled_in_window": handled_in_window,
                "handled_per_s": round2(handled_in_window as f64 / seconds),
                "wechat_sent": sent,
                "notifications": stored,
            })
        })
        .await
        .expect("the measurement panicked")
    }
}
