//! Where the CPU went during a benchmark run, from `/proc` (Linux): the server, the load
//! driver, every process named `postgres`, the rest and idle, as shares of all cores.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// CPU clock ticks (USER_HZ) so far: the whole machine and its idle part, the server, this
/// process, every process named `postgres`, and each other process (pid → command, ticks).
#[derive(Clone, Default)]
pub struct Ticks {
    machine: u64,
    idle: u64,
    server: u64,
    driver: u64,
    postgres: u64,
    others: BTreeMap<u32, (String, u64)>,
}

/// utime + stime of `/proc/<pid>/stat` (0 when it cannot be read) and the command name.
fn proc_ticks(stat_path: &std::path::Path) -> (u64, String) {
    let Ok(text) = std::fs::read_to_string(stat_path) else {
        return (0, String::new());
    };
    let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
        return (0, String::new());
    };
    let comm = text[open + 1..close].to_owned();
    let f: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // after "pid (comm)": state is field 0, utime 11, stime 12
    (n(11) + n(12), comm)
}

/// The ticks so far, with `server_pid` as the server.
pub fn ticks(server_pid: u32) -> Ticks {
    let mut t = Ticks::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
        if let Some(cpu) = stat.lines().next() {
            let v: Vec<u64> = cpu
                .split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|x| x.parse().ok())
                .collect();
            t.machine = v.iter().sum();
            t.idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        }
    }
    t.server = proc_ticks(std::path::Path::new(&format!("/proc/{server_pid}/stat"))).0;
    t.driver = proc_ticks(std::path::Path::new("/proc/self/stat")).0;
    let me = std::process::id();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == server_pid || pid == me {
                continue;
            }
            let (n, comm) = proc_ticks(&entry.path().join("stat"));
            if comm == "postgres" {
                t.postgres += n;
            } else if n > 0 {
                t.others.insert(pid, (comm, n));
            }
        }
    }
    t
}

/// The shares of all cores (2 cores = 200 %) between two snapshots.
pub fn cpu_shares(a: &Ticks, b: &Ticks) -> Value {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = b.machine.saturating_sub(a.machine) as f64;
    if total <= 0.0 {
        return Value::Null;
    }
    let pct = |x: u64| round2(100.0 * cores * x as f64 / total);
    let idle = b.idle.saturating_sub(a.idle);
    let server = b.server.saturating_sub(a.server);
    let driver = b.driver.saturating_sub(a.driver);
    let postgres = b.postgres.saturating_sub(a.postgres);
    let busy = b.machine.saturating_sub(a.machine).saturating_sub(idle);
    let other = busy.saturating_sub(server + driver + postgres);
    // The other processes that used the most, by command (kernel workers together; a process
    // that started during the run counted from 0).
    let mut by_comm: BTreeMap<String, u64> = BTreeMap::new();
    for (pid, (comm, n)) in &b.others {
        let start = a.others.get(pid).map_or(0, |(_, n)| *n);
        let name = if comm.starts_with("kworker/") {
            "kworker (kernel)".to_owned()
        } else {
            comm.clone()
        };
        *by_comm.entry(name).or_default() += n.saturating_sub(start);
    }
    let mut top: Vec<(String, u64)> = by_comm.into_iter().filter(|(_, n)| *n > 0).collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    let top: Vec<Value> = top
        .into_iter()
        .take(5)
        .map(|(comm, n)| json!({ "command": comm, "pct": pct(n) }))
        .collect();
    json!({
        "cores": cores,
        "server_pct": pct(server),
        "driver_pct": pct(driver),
        "postgres_pct": pct(postgres),
        "other_pct": pct(other),
        "idle_pct": pct(idle),
        "other_top": top,
    })
}

/// `x` rounded to two decimals, as the reports show figures.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
