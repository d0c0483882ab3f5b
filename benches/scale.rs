//! `cargo bench --bench scale [-- SIZE…]`: a synthetic platform of each named size
//! (by default all four: `small`, `medium`, `large`, and `xlarge`, a million users, SQLite
//! only, each step once; `TENANTCTL_BENCH_SIZES=small,medium` or names after `--` pick
//! fewer) as YAML on disk, the real server started in this process over SQLite
//! (and PostgreSQL when `TENANTCTL_TEST_POSTGRES` is set), and each step of the reconciler
//! timed with its peak resident memory. Prints a table and writes `target/bench/scale.json`.
//!
//! Run by `cargo test` (no `--bench` argument) it does the `small` size once, as a smoke
//! test that keeps the harness from rotting; it asserts nothing about time.

// A benchmark stops on a broken setup: `unwrap`/`expect` here end a measurement, not a user's run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "scale/gen.rs"]
mod gen;
#[path = "scale/seed.rs"]
mod seed;
#[path = "scale/server.rs"]
mod server_rows;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gen::Size;
use tenantctl::apply::{self, Mode};
use tenantctl::client::{Client, ClientConfig};
use tenantctl::connect::{Connection, Platform};
use tenantctl::model::State;
use tenantctl::pipeline;
use tenantctl::plan::{self, Plan, PlanInput, PlanOptions};
use tenantctl::server::{self, ServerConfig};
use tenantctl::validate;

/// The allocator of the `tenantctl` binary, so that the numbers are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Peak resident set size since the last reset, in bytes (Linux; 0 elsewhere).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Resets the peak to the current resident size (Linux ≥ 4.0: `5 > clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[derive(Debug, Clone, serde::Serialize)]
struct Step {
    size: &'static str,
    backend: &'static str,
    step: &'static str,
    /// Median wall time of the runs.
    seconds: f64,
    /// Fastest and slowest run.
    min_seconds: f64,
    max_seconds: f64,
    runs: usize,
    /// Highest peak of the runs.
    peak_mb: f64,
    users: usize,
    resources: usize,
    /// Changes in the plan, or resources in the step's output.
    items: usize,
    /// Median wall time per user, in microseconds.
    us_per_user: f64,
}

struct Run {
    steps: Vec<Step>,
    /// Resources in the current size's desired state, as validated (not as estimated).
    resources: usize,
    /// Runs of each step that can be repeated (the median is reported).
    repeat: usize,
}

impl Run {
    /// Times a step that changes the platform: run once.
    fn measure<T>(
        &mut self,
        size: &Size,
        backend: &'static str,
        step: &'static str,
        f: impl FnOnce() -> Result<(T, usize), Error>,
    ) -> Result<T, Error> {
        let mut f = Some(f);
        self.measure_runs(size, backend, step, 1, || {
            f.take().ok_or("measured twice")?()
        })
    }

    /// Times a step that leaves the platform as it is: run `self.repeat` times, the output
    /// of the last run kept.
    fn repeated<T>(
        &mut self,
        size: &Size,
        backend: &'static str,
        step: &'static str,
        f: impl FnMut() -> Result<(T, usize), Error>,
    ) -> Result<T, Error> {
        let n = self.repeat;
        self.measure_runs(size, backend, step, n, f)
    }

    fn measure_runs<T>(
        &mut self,
        size: &Size,
        backend: &'static str,
        step: &'static str,
        runs: usize,
        mut f: impl FnMut() -> Result<(T, usize), Error>,
    ) -> Result<T, Error> {
        let mut times = Vec::new();
        let mut peak = 0u64;
        let mut last = None;
        for _ in 0..runs.max(1) {
            // The previous run's output is freed before, not during, the next run.
            drop(last.take());
            reset_peak();
            let start = Instant::now();
            let out = f()?;
            times.push(start.elapsed().as_secs_f64());
            peak = peak.max(peak_rss());
            last = Some(out);
        }
        let (out, items) = last.ok_or("no run")?;
        self.record(size, backend, step, &times, peak, items, "");
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        size: &Size,
        backend: &'static str,
        step: &'static str,
        times: &[f64],
        peak: u64,
        items: usize,
        note: &str,
    ) {
        let mut sorted = times.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let s = Step {
            size: size.name,
            backend,
            step,
            seconds: median,
            min_seconds: sorted.first().copied().unwrap_or(0.0),
            max_seconds: sorted.last().copied().unwrap_or(0.0),
            runs: sorted.len(),
            peak_mb: peak as f64 / 1e6,
            users: size.users,
            resources: self.resources,
            items,
            us_per_user: median * 1e6 / size.users as f64,
        };
        eprintln!(
            "  {:<8} {:<9} {:<24} {:>8.3} s {:>8.0} MB  ({} items{}{})",
            s.size,
            s.backend,
            s.step,
            s.seconds,
            s.peak_mb,
            s.items,
            if s.runs > 1 {
                format!(
                    ", median of {}: {:.3}–{:.3} s",
                    s.runs, s.min_seconds, s.max_seconds
                )
            } else {
                String::new()
            },
            note
        );
        self.steps.push(s);
    }
}

impl Run {
    /// Runs a child process to its end: its wall time and its own peak resident memory.
    ///
    /// The peak is read by GNU time (`/usr/bin/time -f %M`), not by `wait4` here: a child
    /// spawned from this process inherits, at `exec`, the high-water mark of this process's
    /// memory, so its `ru_maxrss` would be the bench's. GNU time's own child starts small.
    fn measure_child(
        &mut self,
        size: &Size,
        backend: &'static str,
        step: &'static str,
        command: impl Fn() -> std::process::Command,
    ) -> Result<(), Error> {
        let timed = Path::new("/usr/bin/time").exists();
        let mut times = Vec::new();
        let mut peak = 0u64;
        for _ in 0..self.repeat.max(1) {
            let inner = command();
            let report = tempfile::NamedTempFile::new()?;
            let mut cmd = if timed {
                let mut c = std::process::Command::new("/usr/bin/time");
                c.arg("-f").arg("%M").arg("-o").arg(report.path());
                c.arg(inner.get_program()).args(inner.get_args());
                c
            } else {
                let mut c = std::process::Command::new(inner.get_program());
                c.args(inner.get_args());
                c
            };
            for (k, v) in inner.get_envs() {
                match v {
                    Some(v) => cmd.env(k, v),
                    None => cmd.env_remove(k),
                };
            }
            cmd.stdout(std::process::Stdio::null());
            let start = Instant::now();
            let status = cmd.status()?;
            times.push(start.elapsed().as_secs_f64());
            if !status.success() {
                return Err(format!("{step}: the command failed: {status}").into());
            }
            let kb: u64 = std::fs::read_to_string(report.path())
                .ok()
                .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
                .unwrap_or(0);
            peak = peak.max(kb * 1024);
        }
        let note = if timed {
            ", child process"
        } else {
            ", child process; no /usr/bin/time: its memory is not measured"
        };
        self.record(size, backend, step, &times, peak, 0, note);
        Ok(())
    }
}

fn load(dir: &Path) -> Result<PlanInput, Error> {
    let checked = validate::check_paths(&[dir.to_path_buf()]);
    if checked.error_count() > 0 {
        let first = checked
            .diagnostics
            .iter()
            .find(|d| d.severity == tenantctl::diagnostic::Severity::Error);
        return Err(format!("generated configuration does not validate: {first:?}").into());
    }
    let desired = checked.desired.ok_or("no desired state")?;
    Ok(pipeline::plan_input(desired))
}

fn changes(plan: &Plan) -> usize {
    plan.summary().total()
}

async fn fetch(client: &Client) -> Result<State, Error> {
    Ok(client.state().await?)
}

#[allow(clippy::too_many_arguments)]
fn bench_backend(
    run: &mut Run,
    rt: &tokio::runtime::Runtime,
    size: &Size,
    backend: &'static str,
    database_url: &str,
    base: &Path,
    edit: &Path,
    work: &Path,
) -> Result<(), Error> {
    let server = rt.block_on(server::start(ServerConfig {
        database_url: database_url.to_string(),
        listen: "127.0.0.1:0".into(),
    }))?;
    let token = match server.bootstrap_token.clone() {
        Some(t) => t,
        None => rt.block_on(server::mint_token(
            database_url,
            "system",
            None,
            None,
            Some("bench"),
            None,
        ))?,
    };
    let mut config = ClientConfig::new(&server.url(), Some(token.clone()));
    config.timeout = Duration::from_secs(600);
    let client = Arc::new(Client::new(config)?);
    let options = PlanOptions::default();
    // The platform as `tenantctl plan --endpoint` sees it: plans below go through the same
    // function as the command (the YAML is loaded while the live state is read).
    let connection = Connection {
        endpoint: Some(server.url()),
        token: Some(token.clone()),
        local_dir: work.join("local"),
        max_rps: 0,
        timeout: Duration::from_secs(600),
        lock_ttl: Duration::from_secs(60),
    };
    let platform = rt.block_on(Platform::connect(&connection))?;
    let plan_paths = |dir: &Path| -> Result<Plan, Error> {
        let loading = pipeline::start_loading(false, &[dir.to_path_buf()])?;
        let (_, plan) =
            rt.block_on(pipeline::load_and_plan(&platform, loading, options.clone()))?;
        Ok(plan)
    };

    // The resources column of every step, validate included, is the size's count.
    run.resources = size.resources();
    let desired = run.repeated(size, backend, "validate", || {
        let d = load(base)?;
        let n = d.state.len();
        Ok((d, n))
    })?;
    run.resources = desired.state.len();
    let plan = run.repeated(size, backend, "plan from empty", || {
        let live = rt.block_on(fetch(&client))?;
        let plan = plan::diff(&desired, &live, &options);
        let n = changes(&plan);
        Ok((plan, n))
    })?;
    let step = if size.name == "xlarge" {
        "apply from empty, batches"
    } else {
        "apply from empty"
    };
    run.measure(size, backend, step, || {
        let (operations, _) = rt.block_on(seed::apply_from_empty(&plan, client.clone()))?;
        Ok(((), operations))
    })?;
    drop(plan);
    drop(desired);
    if backend == "postgres" {
        // Outside the timings: after a bulk load of ~290,000 rows, autovacuum would otherwise
        // vacuum and analyze `resources` and `audit` during the next steps, on one of the two
        // cores. A platform in service is past that point.
        let t = Instant::now();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(database_url).await?;
            sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
            Ok::<_, Error>(())
        })?;
        eprintln!(
            "  (VACUUM ANALYZE after the bulk load: {:.1} s, not timed)",
            t.elapsed().as_secs_f64()
        );
    }
    run.repeated(size, backend, "no-op plan", || {
        let plan = plan_paths(base)?;
        if plan.has_changes() {
            return Err(format!("the no-op plan has {} changes", changes(&plan)).into());
        }
        Ok(((), changes(&plan)))
    })?;
    // The parts of a no-op plan, apart.
    let desired = run.repeated(size, backend, "  no-op: load+validate", || {
        let d = load(base)?;
        let n = d.state.len();
        Ok((d, n))
    })?;
    let live = run.repeated(size, backend, "  no-op: fetch state", || {
        let live = rt.block_on(fetch(&client))?;
        let n = live.len();
        Ok((live, n))
    })?;
    run.repeated(size, backend, "  no-op: diff", || {
        let plan = plan::diff(&desired, &live, &options);
        Ok(((), changes(&plan)))
    })?;
    drop((desired, live));
    // The client alone: the `tenantctl` process, its wall time and peak memory (the
    // server's memory stays in this process).
    run.measure_child(size, backend, "validate, CLI process", || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"));
        cmd.arg("validate").arg(base);
        cmd
    })?;
    run.measure_child(size, backend, "no-op plan, CLI process", || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"));
        cmd.args(["plan", "--detailed-exitcode"])
            .arg(base)
            .env("TENANTCTL_ENDPOINT", server.url())
            .env("TENANTCTL_TOKEN", &token)
            .stdout(std::process::Stdio::null());
        cmd
    })?;
    run.measure(size, backend, "plan+apply 1% change", || {
        let plan = plan_paths(edit)?;
        let n = changes(&plan);
        rt.block_on(apply::apply(
            &plan,
            client.clone(),
            Mode::Batch,
            false,
            apply::Progress::Hidden,
        ))?;
        Ok(((), n))
    })?;
    run.repeated(size, backend, "re-plan after change", || {
        let plan = plan_paths(edit)?;
        if plan.has_changes() {
            return Err(format!(
                "the plan after the 1% change did not converge: {} changes",
                changes(&plan)
            )
            .into());
        }
        Ok(((), 0))
    })?;
    let out = work.join(format!("export-{backend}"));
    run.repeated(size, backend, "export", || {
        let live = rt.block_on(fetch(&client))?;
        let doc = live.to_document();
        let files = tenantctl::commands::export::files(
            &doc,
            tenantctl::cli::ExportLayout::Tenant,
            "bench",
            live.revision,
        )
        .map_err(|e| format!("{e:?}"))?;
        for (name, text) in &files {
            let path = out.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        Ok(((), files.len()))
    })?;
    // The platform's own rows; the first goes back from the edit to the base.
    let revert = plan_paths(base)?;
    let target = server_rows::Target {
        url: server.url(),
        token: token.clone(),
        database_url,
    };
    server_rows::bench(
        run,
        rt,
        size,
        backend,
        &target,
        client.clone(),
        &revert,
        work,
    )?;
    rt.block_on(platform.close());
    rt.block_on(server.shutdown());
    Ok(())
}

fn postgres_database(
    rt: &tokio::runtime::Runtime,
    admin_url: &str,
    name: &str,
) -> Result<String, Error> {
    use sqlx::Connection;
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut conn)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        Ok::<_, Error>(())
    })?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

fn bench_size(
    run: &mut Run,
    rt: &tokio::runtime::Runtime,
    size: Size,
    postgres: Option<&str>,
) -> Result<(), Error> {
    let work = tempfile::tempdir()?;
    let base = work.path().join("base");
    let edit = work.path().join("edit");
    std::fs::create_dir_all(&base)?;
    std::fs::create_dir_all(&edit)?;
    let t = Instant::now();
    gen::write(&base, &size, false)?;
    gen::write(&edit, &size, true)?;
    let bytes: u64 = walk(&base)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "{}: {} resources, {} users, {:.1} MB of YAML, generated in {:.1} s",
        size.name,
        size.resources(),
        size.users,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let db = work.path().join("bench.db");
    bench_backend(
        run,
        rt,
        &size,
        "sqlite",
        &format!("sqlite://{}", db.display()),
        &base,
        &edit,
        work.path(),
    )?;
    // `xlarge` is measured on SQLite only (issue 15).
    if let Some(admin) = postgres.filter(|_| size.name != "xlarge") {
        let url = postgres_database(rt, admin, &format!("tenantctl_bench_{}", size.name))?;
        bench_backend(run, rt, &size, "postgres", &url, &base, &edit, work.path())?;
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn table(steps: &[Step]) -> String {
    let mut s = String::from("| size | backend | step | wall (s), median | min–max (s) | peak RSS (MB) | µs / user | items | resources |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    for st in steps {
        s.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3}–{:.3} | {:.0} | {:.2} | {} | {} |\n",
            st.size,
            st.backend,
            st.step,
            st.seconds,
            st.min_seconds,
            st.max_seconds,
            st.peak_mb,
            st.us_per_user,
            st.items,
            st.resources
        ));
    }
    s
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    let mut names: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    if names.is_empty() {
        names = if benching {
            std::env::var("TENANTCTL_BENCH_SIZES")
                .unwrap_or_else(|_| "small,medium,large,xlarge".into())
                .split(',')
                .map(str::to_string)
                .collect()
        } else {
            vec!["small".into()]
        };
    }
    if let Some(i) = args.iter().position(|a| a == "--read-state") {
        let url = args.get(i + 1).ok_or("--read-state needs a URL")?;
        return server_rows::read_state(url);
    }
    // `--generate DIR`: only write the YAML of each size under DIR/SIZE/{base,edit}, to
    // profile the command line on it (`perf record tenantctl validate DIR/large/base`).
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        let dir = PathBuf::from(args.get(i + 1).ok_or("--generate needs a directory")?);
        for name in names.iter().filter(|n| Path::new(n.as_str()) != dir) {
            let size = Size::by_name(name)
                .ok_or_else(|| format!("unknown size `{name}` (small, medium, large, xlarge)"))?;
            for (sub, edit) in [("base", false), ("edit", true)] {
                let d = dir.join(size.name).join(sub);
                std::fs::create_dir_all(&d)?;
                gen::write(&d, &size, edit)?;
            }
            eprintln!(
                "{}: written under {}",
                size.name,
                dir.join(size.name).display()
            );
        }
        return Ok(());
    }
    let postgres = std::env::var("TENANTCTL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Repeatable steps run 3 times under `cargo bench` (the median is reported), once as a
    // smoke test.
    let mut run = Run {
        steps: Vec::new(),
        resources: 0,
        repeat: if benching { 3 } else { 1 },
    };
    for name in &names {
        let size = Size::by_name(name)
            .ok_or_else(|| format!("unknown size `{name}` (small, medium, large, xlarge)"))?;
        // `xlarge` runs each step once: a run of it takes minutes and gigabytes.
        run.repeat = if size.name == "xlarge" || !benching {
            1
        } else {
            3
        };
        bench_size(&mut run, &rt, size, postgres.as_deref())?;
    }
    let table = table(&run.steps);
    println!("\n{table}");
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("scale.json"),
        serde_json::to_string_pretty(
            &serde_json::json!({ "machine": cpu_model(), "steps": run.steps }),
        )?,
    )?;
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
