//! The platform's rows of the scale bench (issue 15): what one write costs at each size,
//! writes from four clients at once, `GET /state` after a write, a read on a second `serve`
//! process after a write on the first, a single-tenant read under a mixed load, and
//! `apply --parallelism 4` of the 1 % change. Latencies are client round trips over
//! loopback (the server's time plus well under a millisecond of HTTP).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantctl::apply::{self, Mode};
use tenantctl::client::Client;

use super::gen::{self, Size};
use super::{Error, Run};

/// Where the platform under test answers.
pub struct Target<'a> {
    pub url: String,
    pub token: String,
    pub database_url: &'a str,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Run {
    /// Records `samples` (seconds) as two rows: `STEP p50` (with min–max) and `STEP p99`.
    fn latency(
        &mut self,
        size: &Size,
        backend: &'static str,
        steps: [&'static str; 2],
        samples: &[f64],
    ) {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let p50 = percentile(&sorted, 0.5);
        let p99 = percentile(&sorted, 0.99);
        let note = format!(
            ", {} requests, p50 {:.2} ms, p99 {:.2} ms",
            sorted.len(),
            p50 * 1e3,
            p99 * 1e3
        );
        self.record(size, backend, steps[0], &sorted, 0, sorted.len(), &note);
        self.record(size, backend, steps[1], &[p99], 0, sorted.len(), &note);
    }
}

/// One user's spec, changed by `i`.
fn user_spec(i: usize) -> Value {
    json!({ "spec": { "first_name": format!("Bench {i}"), "last_name": "Scale", "language": "fr" } })
}

async fn put_user(
    http: &reqwest::Client,
    t: &Target<'_>,
    email: &str,
    i: usize,
) -> Result<Duration, Error> {
    let start = Instant::now();
    let r = http
        .put(format!("{}/api/v1/users/{email}", t.url))
        .bearer_auth(&t.token)
        .json(&user_spec(i))
        .send()
        .await?;
    let status = r.status();
    let _ = r.bytes().await?;
    if !status.is_success() {
        return Err(format!("PUT user {email}: {status}").into());
    }
    Ok(start.elapsed())
}

async fn get(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<(Duration, bytes::Bytes), Error> {
    let start = Instant::now();
    let r = http.get(url).bearer_auth(token).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}").into());
    }
    Ok((start.elapsed(), body))
}

/// Every server row for one size and backend. The platform is at the 1 % edit when called,
/// and back at the base configuration (plus the users the writes changed) after.
#[allow(clippy::too_many_arguments)]
pub fn bench(
    run: &mut Run,
    rt: &tokio::runtime::Runtime,
    size: &Size,
    backend: &'static str,
    t: &Target<'_>,
    client: Arc<Client>,
    revert: &tenantctl::plan::Plan,
    work: &Path,
) -> Result<(), Error> {
    // `apply --parallelism 4` of the 1 % change (back to the base): one request per change.
    run.measure(size, backend, "apply --parallelism 4", || {
        let applied = rt.block_on(apply::apply(
            revert,
            client.clone(),
            Mode::Resources { parallelism: 4 },
            false,
            apply::Progress::Hidden,
        ))?;
        Ok(((), applied.operations))
    })?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let users: Vec<String> = (0..size.users.min(2000)).map(gen::email).collect();
    let n = if run.repeat > 1 { 300 } else { 30 };
    rt.block_on(async {
        // One PUT at a time.
        let mut samples = Vec::new();
        for i in 0..n {
            let d = put_user(&http, t, &users[i % users.len()], i).await?;
            samples.push(d.as_secs_f64());
        }
        run.latency(
            size,
            backend,
            ["single PUT p50", "single PUT p99"],
            &samples,
        );

        // GET /state after each write: what the write made it re-serialise.
        let mut samples = Vec::new();
        let state_url = format!("{}/api/v1/state", t.url);
        for i in 0..(n / 30).max(3) {
            put_user(&http, t, &users[(i * 7) % users.len()], n + i).await?;
            let (d, _) = get(&http, &state_url, &t.token).await?;
            samples.push(d.as_secs_f64());
        }
        run.latency(
            size,
            backend,
            [
                "GET /state after a write p50",
                "GET /state after a write p99",
            ],
            &samples,
        );
        // The same document again, unchanged (served from the per-revision cache): what
        // the transfer of the bytes costs, the floor of the row above.
        let mut samples = Vec::new();
        for _ in 0..(n / 30).max(3) {
            let (d, _) = get(&http, &state_url, &t.token).await?;
            samples.push(d.as_secs_f64());
        }
        run.latency(
            size,
            backend,
            ["GET /state unchanged p50", "GET /state unchanged p99"],
            &samples,
        );

        // Four clients writing at once, each its own users.
        let total = n * 4;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..4 {
            let (http, users) = (http.clone(), users.clone());
            let target = Target {
                url: t.url.clone(),
                token: t.token.clone(),
                database_url: "",
            };
            tasks.push(tokio::spawn(async move {
                for i in 0..n {
                    let u = &users[(c + 4 * i) % users.len()];
                    put_user(&http, &target, u, 2 * n + i).await?;
                }
                Ok::<_, Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let secs = start.elapsed().as_secs_f64();
        run.record(
            size,
            backend,
            "4 clients: PUTs",
            &[secs],
            0,
            total,
            &format!(", {:.0} writes/s", total as f64 / secs),
        );

        // A single-tenant read (a tenant token reads its tenant) while four clients write
        // and one reads the whole state.
        let tenant = "tenant-0007";
        let tenant_token = {
            let r = http
                .post(format!("{}/api/v1/tokens", t.url))
                .bearer_auth(&t.token)
                .json(&json!({ "scope": format!("tenant:{tenant}"), "role": "org_admin" }))
                .send()
                .await?;
            let status = r.status();
            let body = r.json::<Value>().await?;
            match body["token"].as_str() {
                Some(token) if status.is_success() => token.to_string(),
                _ => return Err(format!("POST /tokens: {status} {body}").into()),
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicUsize::new(0));
        let mut load = Vec::new();
        for c in 0..4 {
            let (http, users, stop, writes) =
                (http.clone(), users.clone(), stop.clone(), writes.clone());
            let target = Target {
                url: t.url.clone(),
                token: t.token.clone(),
                database_url: "",
            };
            load.push(tokio::spawn(async move {
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    put_user(&http, &target, &users[i % users.len()], i).await?;
                    writes.fetch_add(1, Ordering::Relaxed);
                    i += 4;
                }
                Ok::<_, Error>(())
            }));
        }
        // The whole-state reader is another process, as it would be in production: in this
        // one its 39 MB copies at `large` ran on the runtime that times the tenant reads.
        let mut reader = std::process::Command::new(std::env::current_exe()?)
            .args(["--read-state", &state_url])
            .env("TENANTCTL_TOKEN", &t.token)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let tenant_url = format!("{}/api/v1/tenants/{tenant}", t.url);
        let mut samples = Vec::new();
        let start = Instant::now();
        for _ in 0..n {
            let (d, _) = get(&http, &tenant_url, &tenant_token).await?;
            samples.push(d.as_secs_f64());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        stop.store(true, Ordering::Relaxed);
        drop(reader.stdin.take());
        let reads = tokio::task::spawn_blocking(move || reader.wait_with_output()).await??;
        for task in load {
            task.await??;
        }
        let reads = String::from_utf8_lossy(&reads.stdout);
        if !reads.trim().chars().all(|c| c.is_ascii_digit()) || reads.trim().is_empty() {
            return Err(format!("the whole-state reader failed (it printed `{reads}`)").into());
        }
        eprintln!(
            "  (mixed load: {} writes and {} whole-state reads in {:.1} s alongside the reads)",
            writes.load(Ordering::Relaxed),
            reads.trim(),
            start.elapsed().as_secs_f64()
        );
        run.latency(
            size,
            backend,
            ["tenant GET p50, mixed load", "tenant GET p99, mixed load"],
            &samples,
        );
        Ok::<_, Error>(())
    })?;
    replica(run, rt, size, backend, t, &users, work)
}

/// A second `tenantctl serve` process over the same database: a read there right after a
/// write on the first, against the same read on the first.
fn replica(
    run: &mut Run,
    rt: &tokio::runtime::Runtime,
    size: &Size,
    backend: &'static str,
    t: &Target<'_>,
    users: &[String],
    work: &Path,
) -> Result<(), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::File::create(work.join(format!("serve-b-{backend}.log")))?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args([
            "serve",
            "--database",
            t.database_url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()?;
    let b_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let n = if run.repeat > 1 { 100 } else { 10 };
    let result = rt.block_on(async {
        let started = Instant::now();
        loop {
            let ok = http
                .get(format!("{b_url}/api/v1/state"))
                .bearer_auth(&t.token)
                .send()
                .await;
            if ok.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                return Err::<(), Error>("the second serve process did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "  (second serve process up in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
        for i in 0..n {
            let email = &users[(i * 13) % users.len()];
            put_user(&http, t, email, 10_000 + i).await?;
            let (db, body) = get(&http, &format!("{b_url}/api/v1/users/{email}"), &t.token).await?;
            let seen: Value = serde_json::from_slice(&body)?;
            if seen["spec"]["first_name"] != json!(format!("Bench {}", 10_000 + i)) {
                return Err(format!("B did not see A's write to {email}: {seen}").into());
            }
            let (da, _) = get(&http, &format!("{}/api/v1/users/{email}", t.url), &t.token).await?;
            on_b.push(db.as_secs_f64());
            on_a.push(da.as_secs_f64());
        }
        run.latency(size, backend, ["read on A p50", "read on A p99"], &on_a);
        run.latency(
            size,
            backend,
            [
                "read on B after write on A p50",
                "read on B after write on A p99",
            ],
            &on_b,
        );
        Ok(())
    });
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `--read-state URL`: the mixed load's whole-state reader, run by the bench as a process of
/// its own. It reads the document at `URL` with the token in `TENANTCTL_TOKEN` again and
/// again, dropping each chunk as it arrives, until its standard input closes; then it prints
/// how many reads it finished.
pub fn read_state(url: &str) -> Result<(), Error> {
    let token = std::env::var("TENANTCTL_TOKEN")?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            stop.store(true, Ordering::Relaxed);
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reads = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut reads = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let mut r = http.get(url).bearer_auth(&token).send().await?;
            if !r.status().is_success() {
                return Err(format!("GET {url}: {}", r.status()).into());
            }
            while r.chunk().await?.is_some() {}
            reads += 1;
        }
        Ok::<_, Error>(reads)
    })?;
    println!("{reads}");
    Ok(())
}
