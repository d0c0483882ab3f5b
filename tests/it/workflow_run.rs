//! The users' workflow (`examples/github/tenantctl.yml`) run for real: the plan job of a pull
//! request and the apply job of its merge, step by step and in order, as the shell GitHub runs,
//! with the variables GitHub sets, against a local platform and the real binary. GitHub itself
//! is the only stand-in: `gh` is `tests/it/github/gh` over files (comments, pull requests,
//! artifacts), `actions/checkout` is the configuration already in the workspace, and
//! `actions/upload-artifact` copies the files into that store.
//!
//! Five pull requests: a change, no change, an acknowledged guarded change, an unacknowledged
//! one, and a plan gone stale before the merge. Each transcript is an insta snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::Ctx;
use crate::ctx_snapshot;

const REPO: &str = "acme/platform-config";

const BASE: &str = r#"plans:
  team:
    display_name: Team
    limits: { users: 10, workspaces: 5 }
tenants:
  acme:
    display_name: Acme
    plan: team
    previously: acme-corp
    workspaces:
      paris: { display_name: Paris }
users:
  alice@acme.example:
    first_name: Alice
    memberships: { acme: { role: org_admin } }
  bob@acme.example:
    first_name: Bob
    memberships: { acme: { role: org_admin } }
  carol@acme.example:
    first_name: Carol
    memberships: { acme: { role: member } }
  erin@acme.example:
    first_name: Erin
    memberships: { acme: { role: member } }
  frank@acme.example:
    first_name: Frank
    memberships: { acme: { role: member } }
"#;

fn workflow() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github/tenantctl.yml");
    let text = std::fs::read_to_string(path).expect("workflow");
    serde_saphyr::from_str(&text).expect("workflow YAML")
}

/// One simulated repository on GitHub: its pull requests, comments and artifacts (the `gh`
/// stand-in's state), and a workspace per job run.
struct Github {
    root: PathBuf,
    runs: u64,
    workflow: Value,
    /// `vars.*` and `secrets.*`.
    vars: BTreeMap<String, String>,
}

/// What one job run did.
struct JobRun {
    ok: bool,
    transcript: String,
}

impl Github {
    fn new(ctx: &Ctx) -> Github {
        let root = ctx.dir().join("github");
        std::fs::create_dir_all(root.join("state/artifacts")).expect("mkdir");
        let vars = BTreeMap::from([
            ("vars.TENANTCTL_ENDPOINT".to_string(), ctx.server().url()),
            (
                "secrets.TENANTCTL_TOKEN".to_string(),
                ctx.token().to_string(),
            ),
        ]);
        Github {
            root,
            runs: 0,
            workflow: workflow(),
            vars,
        }
    }

    fn state(&self) -> PathBuf {
        self.root.join("state")
    }

    /// Opens pull request `pr` whose last commit is `head` and sets its configuration.
    fn pull_request(&self, pr: u64, head: &str) {
        let pulls = self.state().join("pulls");
        std::fs::create_dir_all(&pulls).expect("mkdir");
        std::fs::write(pulls.join(pr.to_string()), head).expect("write");
    }

    /// Merges pull request `pr` as commit `sha`.
    fn merge(&self, pr: u64, sha: &str) {
        let dir = self.state().join("commit-pulls");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(sha), pr.to_string()).expect("write");
    }

    /// The comments on the pull request, by id.
    fn comments(&self) -> BTreeMap<u64, String> {
        let dir = self.state().join("comments");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return BTreeMap::new();
        };
        entries
            .flatten()
            .map(|e| {
                let id = e.file_name().to_string_lossy().parse().expect("id");
                (id, std::fs::read_to_string(e.path()).expect("comment"))
            })
            .collect()
    }

    /// Runs job `job` for `event` (`pull_request` of `pr` at `sha`, or `push` of `sha`) with
    /// `config` as the repository's `config/` directory.
    fn run_job(&mut self, job: &str, event: &str, pr: u64, sha: &str, config: &str) -> JobRun {
        self.runs += 1;
        let run_id = 1000 + self.runs;
        let work = self.root.join(format!("run-{run_id}"));
        std::fs::create_dir_all(work.join("config")).expect("mkdir");
        std::fs::write(work.join("config/config.yaml"), config).expect("write");
        let mut ctx: BTreeMap<String, String> = self.vars.clone();
        for (k, v) in [
            ("github.event_name", event.to_string()),
            ("github.repository", REPO.to_string()),
            ("github.server_url", "https://github.example".to_string()),
            ("github.run_id", run_id.to_string()),
            ("github.token", "ghs_stub".to_string()),
            ("github.sha", sha.to_string()),
        ] {
            ctx.insert(k.into(), v);
        }
        if event == "pull_request" {
            ctx.insert("github.event.pull_request.number".into(), pr.to_string());
            ctx.insert("github.event.pull_request.head.sha".into(), sha.to_string());
        }
        let wf = self.workflow.clone();
        let spec = &wf["jobs"][job];
        let mut transcript = format!("## job `{job}` on {event} (commit {sha})\n");
        let mut failed = false;
        for step in spec["steps"].as_array().expect("steps") {
            let name = step["name"]
                .as_str()
                .or(step["uses"].as_str())
                .unwrap_or("step");
            let id = step["id"].as_str().unwrap_or("");
            let condition = step["if"].as_str().unwrap_or("success()");
            if !condition_holds(condition, failed, &ctx) {
                transcript += &format!("\n### {name}: skipped ({condition})\n");
                continue;
            }
            transcript += &format!("\n### {name}\n");
            if let Some(uses) = step["uses"].as_str() {
                if uses.starts_with("actions/upload-artifact@") {
                    let with = &step["with"];
                    let artifact = expand(with["name"].as_str().expect("name"), &ctx);
                    let file = with["path"].as_str().expect("path");
                    let head = ctx
                        .get("github.event.pull_request.head.sha")
                        .unwrap_or(&ctx["github.sha"])
                        .clone();
                    self.upload(&work, &artifact, file, run_id, &head);
                    transcript += &format!("(uploaded {file} as artifact {artifact})\n");
                } else {
                    transcript +=
                        &format!("({uses}: the workspace already holds the repository)\n");
                }
                continue;
            }
            let script = step["run"].as_str().expect("run");
            if id == "install" {
                transcript += "(tenantctl is already on PATH: the binary under test)\n";
                continue;
            }
            let mut env: BTreeMap<String, String> = BTreeMap::new();
            for scope in [&wf["env"], &step["env"]] {
                if let Some(map) = scope.as_object() {
                    for (k, v) in map {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        env.insert(k.clone(), expand(&v, &ctx));
                    }
                }
            }
            let (code, output, outputs) = self.run_step(&work, script, &env, &ctx);
            transcript += &output;
            if code != 0 {
                transcript += &format!("(exit {code})\n");
                failed = true;
            }
            for (k, v) in outputs {
                ctx.insert(format!("steps.{id}.outputs.{k}"), v);
            }
        }
        transcript += &format!(
            "\n=> job `{job}` {}\n",
            if failed { "failed" } else { "succeeded" }
        );
        JobRun {
            ok: !failed,
            transcript,
        }
    }

    /// `actions/upload-artifact`: the file into the store, with the run and commit it came from.
    fn upload(&self, work: &Path, name: &str, file: &str, run: u64, head: &str) {
        let dir = self.state().join(format!("artifacts/{run}-{name}"));
        std::fs::create_dir_all(dir.join("files")).expect("mkdir");
        std::fs::copy(work.join(file), dir.join("files").join(file)).expect("artifact file");
        let meta = serde_json::json!({
            "id": run,
            "name": name,
            "expired": false,
            "created_at": format!("2026-11-30T10:{:02}:00Z", run % 60),
            "workflow_run": { "id": run, "head_sha": head },
        });
        std::fs::write(dir.join("meta.json"), meta.to_string()).expect("meta");
    }

    /// Runs one `run:` step as GitHub does (`bash --noprofile --norc -eo pipefail`), stdout and
    /// stderr together; returns the exit code, the output and the step's `$GITHUB_OUTPUT`.
    fn run_step(
        &self,
        work: &Path,
        script: &str,
        env: &BTreeMap<String, String>,
        ctx: &BTreeMap<String, String>,
    ) -> (i32, String, BTreeMap<String, String>) {
        let script_path = work.join("step.sh");
        std::fs::write(&script_path, script).expect("script");
        let output_path = work.join("github_output");
        std::fs::write(&output_path, "").expect("output");
        let log_path = work.join("step.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let bin = assert_cmd::cargo::cargo_bin("tenantctl");
        let stub = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/github");
        let path = format!(
            "{}:{}:{}",
            stub.display(),
            bin.parent().expect("bin dir").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let status = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_path)
            .current_dir(work)
            .env_clear()
            .env("PATH", path)
            .env("HOME", work)
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", &ctx["github.event_name"])
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SHA", &ctx["github.sha"])
            .env("GITHUB_RUN_ID", &ctx["github.run_id"])
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_WORKSPACE", work)
            .env("GITHUB_OUTPUT", &output_path)
            .env("RUNNER_TEMP", work)
            .env("GH_STUB_STATE", self.state())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .status()
            .expect("bash runs");
        let output = elapsed_hidden(&std::fs::read_to_string(&log_path).expect("log"));
        let outputs = std::fs::read_to_string(&output_path)
            .expect("output")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (status.code().unwrap_or(-1), output, outputs)
    }
}

/// The duration at the end of `Apply complete! … in 0.1 s.` as `[elapsed]`: it varies.
fn elapsed_hidden(output: &str) -> String {
    output
        .split_inclusive('\n')
        .map(|line| match line.rfind(" in ") {
            Some(at) if line.starts_with("Apply complete!") && line.trim_end().ends_with(" s.") => {
                format!("{} in [elapsed].\n", &line[..at])
            }
            _ => line.to_string(),
        })
        .collect()
}

/// `${{ a.b }}` replaced by its value in `ctx` (empty when unknown, as in GitHub).
fn expand(text: &str, ctx: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let key = rest[start + 3..end].trim();
        out.push_str(ctx.get(key).map_or("", String::as_str));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The `if:` forms the workflow uses: `success()`, `always()`, and `&&` of `a == 'x'` /
/// `a != 'x'`. Without a status function, a step runs only while no step failed.
fn condition_holds(condition: &str, failed: bool, ctx: &BTreeMap<String, String>) -> bool {
    if condition.contains("always()") {
        return true;
    }
    if failed {
        return condition.contains("failure()");
    }
    condition.split("&&").all(|term| {
        let term = term.trim();
        if term == "success()" {
            return true;
        }
        let (key, op, want) = if let Some((k, v)) = term.split_once("!=") {
            (k, "!=", v)
        } else if let Some((k, v)) = term.split_once("==") {
            (k, "==", v)
        } else {
            panic!("unsupported condition `{term}`")
        };
        let have = ctx.get(key.trim()).map_or("", String::as_str);
        let want = want.trim().trim_matches('\'');
        (have == want) == (op == "==")
    })
}

/// The platform as the test starts it: the base configuration applied.
async fn platform() -> (Ctx, Github) {
    let ctx = Ctx::sqlite().await;
    let base = ctx.dir().join("base.yaml");
    std::fs::write(&base, BASE).expect("write");
    let r = ctx
        .tenantctl(["apply", "--auto-approve", base.to_str().expect("path")])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let gh = Github::new(&ctx);
    (ctx, gh)
}

fn with_dave(config: &str) -> String {
    format!("{config}  dave@acme.example:\n    first_name: Dave\n    memberships: {{ acme: {{ role: member }} }}\n")
}

/// Carol leaves and the seats go down to 4: below the 5 live members until the apply.
fn lowered(config: &str) -> String {
    config
        .replace("    plan: team\n", "    plan: team\n    limits: { users: 4 }\n")
        .replace(
            "  carol@acme.example:\n    first_name: Carol\n    memberships: { acme: { role: member } }\n",
            "",
        )
}

/// Every comment, in order, for the transcript.
fn comments_text(gh: &Github) -> String {
    gh.comments()
        .into_iter()
        .map(|(id, body)| {
            format!(
                "--- comment {id} ({} characters)\n{body}",
                body.chars().count()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_a_pull_request_with_a_change() {
    let (ctx, mut gh) = platform().await;
    let config = with_dave(BASE);
    gh.pull_request(1, "c0ffee1");
    let plan = gh.run_job("plan", "pull_request", 1, "c0ffee1", &config);
    assert!(plan.ok, "{}", plan.transcript);
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "one comment");
    let first = comments.values().next().expect("comment");
    assert!(
        first.starts_with("<!-- tenantctl-plan-1 -->\n### tenantctl plan\n\n**Plan: 2 to create"),
        "{first}"
    );
    gh.merge(1, "feed001");
    let apply = gh.run_job("apply", "push", 1, "feed001", &config);
    assert!(apply.ok, "{}", apply.transcript);
    assert!(ctx.live().await.users.contains_key("dave@acme.example"));
    let transcript = format!(
        "{}\n{}\n{}",
        plan.transcript,
        comments_text(&gh),
        apply.transcript
    );
    ctx_snapshot!(ctx, "workflow_change", transcript);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_a_pull_request_with_no_change() {
    let (ctx, mut gh) = platform().await;
    // The rename is applied: removing `previously:` changes nothing on the platform.
    let config = BASE.replace("    previously: acme-corp\n", "");
    let revision = ctx.live().await.revision;
    gh.pull_request(2, "c0ffee2");
    let plan = gh.run_job("plan", "pull_request", 2, "c0ffee2", &config);
    assert!(plan.ok, "{}", plan.transcript);
    assert!(comments_text(&gh).contains("**No changes.**"));
    gh.merge(2, "feed002");
    let apply = gh.run_job("apply", "push", 2, "feed002", &config);
    assert!(apply.ok, "{}", apply.transcript);
    assert_eq!(ctx.live().await.revision, revision, "nothing was written");
    let transcript = format!(
        "{}\n{}\n{}",
        plan.transcript,
        comments_text(&gh),
        apply.transcript
    );
    ctx_snapshot!(ctx, "workflow_no_change", transcript);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_an_acknowledged_guarded_change() {
    let (ctx, mut gh) = platform().await;
    let config = format!(
        "{}acknowledge:\n  - code: limit_below_usage\n    kind: tenant\n    key: acme\n    reason: carol left; the contract is for 4 seats\n",
        lowered(BASE)
    );
    gh.pull_request(3, "c0ffee3");
    let plan = gh.run_job("plan", "pull_request", 3, "c0ffee3", &config);
    assert!(plan.ok, "{}", plan.transcript);
    assert!(comments_text(&gh).contains("Acknowledged risks: applied as planned"));
    gh.merge(3, "feed003");
    let apply = gh.run_job("apply", "push", 3, "feed003", &config);
    assert!(apply.ok, "{}", apply.transcript);
    assert_eq!(ctx.live().await.tenants["acme"].spec.limits.users, Some(4));
    let transcript = format!(
        "{}\n{}\n{}",
        plan.transcript,
        comments_text(&gh),
        apply.transcript
    );
    ctx_snapshot!(ctx, "workflow_acknowledged", transcript);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_an_unacknowledged_guarded_change() {
    let (ctx, mut gh) = platform().await;
    let config = lowered(BASE);
    gh.pull_request(4, "c0ffee4");
    let plan = gh.run_job("plan", "pull_request", 4, "c0ffee4", &config);
    assert!(!plan.ok, "the check fails: {}", plan.transcript);
    let text = comments_text(&gh);
    assert!(
        text.contains("apply refuses this plan until each is acknowledged"),
        "{text}"
    );
    assert!(
        text.contains("add `{code: limit_below_usage, kind: tenant, key: acme}` to `acknowledge:`"),
        "{text}"
    );
    assert!(
        !gh.state()
            .join("artifacts")
            .read_dir()
            .expect("dir")
            .any(|_| true),
        "no plan kept for a merge"
    );
    // Merged anyway: nothing is applied, and the job fails.
    gh.merge(4, "feed004");
    let apply = gh.run_job("apply", "push", 4, "feed004", &config);
    assert!(!apply.ok, "{}", apply.transcript);
    assert_eq!(ctx.live().await.tenants["acme"].spec.limits.users, None);
    let transcript = format!("{}\n{}\n{}", plan.transcript, text, apply.transcript);
    ctx_snapshot!(ctx, "workflow_unacknowledged", transcript);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_a_stale_plan_at_merge() {
    let (ctx, mut gh) = platform().await;
    let config = with_dave(BASE);
    gh.pull_request(5, "c0ffee5");
    let plan = gh.run_job("plan", "pull_request", 5, "c0ffee5", &config);
    assert!(plan.ok, "{}", plan.transcript);
    let before = gh.comments();
    // Someone changes the platform between the review and the merge.
    let a = ctx
        .server()
        .put(
            "/api/v1/tenants/acme",
            serde_json::json!({ "display_name": "Acme (renamed in the UI)", "plan": "team" }),
        )
        .await;
    assert!(a.status.is_success(), "{}", a.text);
    gh.merge(5, "feed005");
    let apply = gh.run_job("apply", "push", 5, "feed005", &config);
    assert!(!apply.ok, "{}", apply.transcript);
    assert!(apply
        .transcript
        .contains("the saved plan of this pull request is stale"));
    assert!(
        !ctx.live().await.users.contains_key("dave@acme.example"),
        "nothing applied"
    );
    let after = gh.comments();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the comment is updated in place"
    );
    let comment = after.values().next().expect("comment");
    assert!(
        comment.contains("Nothing was applied at the merge"),
        "{comment}"
    );
    assert!(
        comment.contains("\"Acme (renamed in the UI)\" → \"Acme\""),
        "{comment}"
    );
    // Re-running the job applies the new plan it posted.
    let rerun = gh.run_job("apply", "push", 5, "feed005", &config);
    assert!(rerun.ok, "{}", rerun.transcript);
    assert!(ctx.live().await.users.contains_key("dave@acme.example"));
    let transcript = format!(
        "{}\n{}\n--- the platform changes\n{}\n{}\n--- the apply job is re-run\n{}",
        plan.transcript,
        before.values().cloned().collect::<Vec<_>>().join("\n"),
        apply.transcript,
        comments_text(&gh),
        rerun.transcript
    );
    ctx_snapshot!(ctx, "workflow_stale", transcript);
    ctx.shutdown().await;
}
