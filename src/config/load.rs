//! Loading the configuration: walking files and directories, reading them safely (size,
//! UTF-8), and parsing each file into a JSON value on one thread per core, with its
//! `${env:NAME}` references substituted ([`super::env`]) and a per-file [`Hook`] applied on
//! the thread that parsed it. Merging the files is [`super::merge`]'s. Every problem is
//! returned as data with the place it belongs to; nothing here panics on bad input.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::env::{substitute_env, Substitution};
use super::yaml::compose::{ComposeError, MAX_DEPTH};
use super::yaml::span::SourceFile;
use crate::diagnostic::{FileId, Place, Problem};

/// Files larger than this are refused without being read.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The files read and their parsed documents (or what a [`Hook`] made of them).
#[derive(Debug)]
pub struct Loaded<T = Value> {
    pub files: Vec<Arc<SourceFile>>,
    /// The parsed, substituted document of each file; `None` when it could not be parsed.
    pub values: Vec<Option<T>>,
    pub problems: Vec<Problem>,
    /// Every `${env:…}` substitution, by file: the sensitive values.
    pub substitutions: Vec<(FileId, Substitution)>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            files: Vec::new(),
            values: Vec::new(),
            problems: Vec::new(),
            substitutions: Vec::new(),
        }
    }
}

/// What to make of each parsed file, on the thread that parsed it (so that a file's JSON
/// value is dropped as soon as it is used, not kept until every file is parsed).
pub type Hook<'a, T> = &'a (dyn Fn(FileId, Value, &mut Vec<Problem>) -> Option<T> + Sync);

/// What to make of a file's text without parsing it into a JSON value, tried first (without
/// `${env:…}` in the text); `None` takes the usual path, parse and [`Hook`].
pub type Direct<'a, T> = Option<&'a (dyn Fn(&str) -> Option<T> + Sync)>;

/// Reads every path (files, and directories recursively: `*.yaml` and `*.yml` in sorted
/// order, hidden entries skipped) and parses each file.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    load_paths_with(paths, None, &|_, v, _| Some(v))
}

/// [`load_paths`], with `direct` tried on each file's text, and `hook` applied to each file
/// parsed.
pub fn load_paths_with<T: Send>(
    paths: &[PathBuf],
    direct: Direct<'_, T>,
    hook: Hook<'_, T>,
) -> Loaded<T> {
    let mut loaded = Loaded::default();
    if paths.is_empty() {
        loaded.problems.push(Problem::error(
            "no_input",
            Place::Nowhere,
            "no file or directory given",
        ));
    }
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files, &mut loaded.problems);
    }
    let mut seen = HashSet::new();
    // Files are read in order (ids and problems stay in file order); their texts are parsed
    // afterwards, in parallel: composing YAML is most of the time of a large configuration.
    let mut slots: Vec<Slot<T>> = Vec::new();
    for f in files {
        // The same file named twice (`a.yaml dir/` with a.yaml inside dir) is read once.
        let canonical = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if seen.insert(canonical) {
            let mut part = Loaded {
                files: std::mem::take(&mut loaded.files),
                values: std::mem::take(&mut loaded.values),
                ..Loaded::default()
            };
            let pending = read_file(&f, &mut part);
            loaded.files = part.files;
            loaded.values = part.values;
            slots.push(Slot {
                problems: part.problems,
                substitutions: Vec::new(),
                pending,
            });
        }
    }
    parse_pending(&mut slots, &loaded.files, direct, hook);
    for slot in slots {
        loaded.problems.extend(slot.problems);
        if let Some(p) = &slot.pending {
            let id = p.id;
            (loaded.substitutions).extend(slot.substitutions.into_iter().map(|s| (id, s)));
        }
        if let Some((id, value)) = slot.pending.and_then(|p| p.value.map(|v| (p.id, v))) {
            loaded.values[id] = Some(value);
        }
    }
    loaded
}

/// One file of [`load_paths`]: the problems found reading it, then parsing it, and its
/// `${env:…}` substitutions.
struct Slot<T> {
    problems: Vec<Problem>,
    substitutions: Vec<Substitution>,
    pending: Option<Pending<T>>,
}

/// A file read but not parsed yet; `value` is filled by [`parse_pending`].
struct Pending<T> {
    id: FileId,
    value: Option<T>,
}

/// Parses every pending file, on up to as many threads as there are cores, the largest
/// files first.
fn parse_pending<T: Send>(
    slots: &mut [Slot<T>],
    files: &[Arc<SourceFile>],
    direct: Direct<'_, T>,
    hook: Hook<'_, T>,
) {
    let mut work: Vec<&mut Slot<T>> = slots.iter_mut().filter(|s| s.pending.is_some()).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(work.len());
    let size = |s: &Slot<T>| {
        s.pending
            .as_ref()
            .and_then(|p| files.get(p.id))
            .map_or(0, |f| f.text.len())
    };
    if threads <= 1 {
        for slot in work {
            parse_slot(slot, files, direct, hook);
        }
        return;
    }
    // Largest first, dealt round-robin to balance the threads.
    work.sort_by_key(|s| std::cmp::Reverse(size(s)));
    let mut shares: Vec<Vec<&mut Slot<T>>> = (0..threads).map(|_| Vec::new()).collect();
    let mut loads = vec![0usize; threads];
    for slot in work {
        let i = (0..threads).min_by_key(|i| loads[*i]).unwrap_or(0);
        loads[i] += size(slot);
        shares[i].push(slot);
    }
    std::thread::scope(|scope| {
        for share in shares {
            scope.spawn(move || {
                for slot in share {
                    parse_slot(slot, files, direct, hook);
                }
            });
        }
    });
}

fn parse_slot<T>(
    slot: &mut Slot<T>,
    files: &[Arc<SourceFile>],
    direct: Direct<'_, T>,
    hook: Hook<'_, T>,
) {
    if let Some(p) = slot.pending.as_mut() {
        if let Some(file) = files.get(p.id) {
            p.value = parse_file(
                p.id,
                file,
                &mut slot.problems,
                &mut slot.substitutions,
                direct,
                hook,
            );
        }
    }
}

/// A file's value: `direct` on its text, or else parsed, substituted and given to `hook`.
fn parse_file<T>(
    id: FileId,
    file: &SourceFile,
    problems: &mut Vec<Problem>,
    found: &mut Vec<Substitution>,
    direct: Direct<'_, T>,
    hook: Hook<'_, T>,
) -> Option<T> {
    if let Some(t) = direct.and_then(|d| d(&file.text)) {
        return Some(t);
    }
    parse_value(id, file, problems, found).and_then(|v| hook(id, v, problems))
}

/// Parses one text as if it were a file named `name`: the entry point for tests and fuzzing.
pub fn load_str(name: &str, text: &str) -> Loaded {
    load_str_with(name, text, None, &|_, v, _| Some(v))
}

/// [`load_str`], with `direct` tried on the text, and `hook` applied to the parsed file.
pub fn load_str_with<T>(
    name: &str,
    text: &str,
    direct: Direct<'_, T>,
    hook: Hook<'_, T>,
) -> Loaded<T> {
    let mut loaded = Loaded::default();
    if let Some(p) = parse_text(PathBuf::from(name), text.to_string(), &mut loaded) {
        let file = loaded.files[p.id].clone();
        let mut found = Vec::new();
        loaded.values[p.id] =
            parse_file(p.id, &file, &mut loaded.problems, &mut found, direct, hook);
        (loaded.substitutions).extend(found.into_iter().map(|s| (p.id, s)));
    }
    loaded
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
}

fn collect(path: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(
                Problem::error(
                    "missing_path",
                    Place::Path(path.into()),
                    format!("`{}` does not exist", path.display()),
                )
                .help("give a YAML file or a directory of YAML files"),
            );
            return;
        }
        Err(e) => {
            problems.push(Problem::error(
                "io",
                Place::Path(path.into()),
                format!("cannot read `{}`: {e}", path.display()),
            ));
            return;
        }
    };
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    let before = out.len();
    let mut visited = HashSet::new();
    walk_dir(path, out, problems, &mut visited, 0);
    if out.len() == before {
        problems.push(
            Problem::error(
                "no_yaml",
                Place::Path(path.into()),
                format!("directory `{}` holds no YAML file", path.display()),
            )
            .help("configuration files end in `.yaml` or `.yml`"),
        );
    }
}

fn walk_dir(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<Problem>,
    visited: &mut HashSet<PathBuf>,
    depth: usize,
) {
    // Symbolic links can make a directory its own descendant.
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if depth > 32 || !visited.insert(canonical) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(Problem::error(
                "io",
                Place::Path(dir.into()),
                format!("cannot read directory `{}`: {e}", dir.display()),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) if !e.file_name().to_string_lossy().starts_with('.') => paths.push(e.path()),
            Ok(_) => {}
            Err(e) => problems.push(Problem::error(
                "io",
                Place::Path(dir.into()),
                format!("cannot read directory `{}`: {e}", dir.display()),
            )),
        }
    }
    paths.sort();
    for p in paths {
        // Symbolic links are followed; a broken one is reported when it is read.
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk_dir(&p, out, problems, visited, depth + 1),
            // A FIFO would block the read until someone writes to it: reported, never opened.
            Ok(m) if is_yaml(&p) && !m.is_file() => problems.push(
                Problem::error(
                    "not_a_file",
                    Place::Path(p.clone()),
                    format!(
                        "`{}` is {}, not a regular file; it was not read",
                        p.display(),
                        crate::output_file::kind_of(m.file_type())
                    ),
                )
                .help("a configuration directory holds YAML files; move it out, or name it on the command line to read it"),
            ),
            _ if is_yaml(&p) => out.push(p),
            _ => {}
        }
    }
}

/// Reads one file into `loaded`; a file to parse is returned pending, its value `None`.
fn read_file<T>(path: &Path, loaded: &mut Loaded<T>) -> Option<Pending<T>> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        loaded.problems.push(
            Problem::error(
                "file_too_large",
                Place::Path(path.into()),
                format!(
                    "`{}` is {} MiB; files over {} MiB are refused",
                    path.display(),
                    size / (1024 * 1024),
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            )
            .help("split the configuration into several files, for example one per tenant"),
        );
        return None;
    }
    // Read at most one byte past the limit: a device or a growing file cannot exhaust memory.
    let read = std::fs::File::open(path).and_then(|f| {
        use std::io::Read;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        f.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    });
    let bytes = match read {
        Ok(b) if b.len() as u64 > MAX_FILE_BYTES => {
            loaded.problems.push(
                Problem::error(
                    "file_too_large",
                    Place::Path(path.into()),
                    format!(
                        "`{}` is larger than {} MiB",
                        path.display(),
                        MAX_FILE_BYTES / (1024 * 1024)
                    ),
                )
                .help("split the configuration into several files, for example one per tenant"),
            );
            return None;
        }
        Ok(b) => b,
        Err(e) => {
            loaded.problems.push(Problem::error(
                "io",
                Place::Path(path.into()),
                format!("cannot read `{}`: {e}", path.display()),
            ));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => parse_text(path.to_path_buf(), text, loaded),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let id = push_file(loaded, path.to_path_buf(), text);
            // The lossy text equals the original up to the first bad byte, which becomes U+FFFD.
            loaded.problems.push(
                Problem::error(
                    "invalid_utf8",
                    Place::Bytes(id, at..at + '\u{FFFD}'.len_utf8()),
                    format!("`{}` is not valid UTF-8", path.display()),
                )
                .label("not UTF-8")
                .help("save the file as UTF-8"),
            );
            loaded.values.push(None);
            None
        }
    }
}

fn push_file<T>(loaded: &mut Loaded<T>, path: PathBuf, text: String) -> FileId {
    loaded.files.push(Arc::new(SourceFile::new(path, text)));
    loaded.files.len() - 1
}

/// Registers a text as a file; returns it pending when it is to be parsed.
fn parse_text<T>(path: PathBuf, text: String, loaded: &mut Loaded<T>) -> Option<Pending<T>> {
    // An explicitly named file may be of any size: enforce the limit on strings too.
    let too_large = text.len() as u64 > MAX_FILE_BYTES;
    let id = push_file(loaded, path, text);
    loaded.values.push(None);
    if too_large {
        let name = loaded.files[id].path.display().to_string();
        loaded.problems.push(Problem::error(
            "file_too_large",
            Place::Bytes(id, 0..0),
            format!(
                "`{name}` is larger than {} MiB",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
        return None;
    }
    Some(Pending { id, value: None })
}

/// Parses a file's text and substitutes `${env:…}` (recorded in `found`); `None` when there
/// is no value.
fn parse_value(
    id: FileId,
    file: &SourceFile,
    problems: &mut Vec<Problem>,
    found: &mut Vec<Substitution>,
) -> Option<Value> {
    let text: &str = &file.text;
    let name = file.path.display();
    if text.trim().is_empty() {
        problems.push(Problem {
            place: Place::Path(file.path.clone()),
            ..empty_file(id, &name.to_string())
        });
        return None;
    }
    // The fast path takes the usual shapes; the full parser the rest, and every error.
    let composed = match super::yaml::fast::parse(text) {
        Some(v) => Ok(v),
        None => super::yaml::compose::compose(text),
    };
    let mut value = match composed {
        Ok(Value::Null) => {
            problems.push(empty_file(id, &name.to_string()));
            return None;
        }
        Ok(v) => v,
        Err(errors) => {
            problems.extend(errors.into_iter().map(|e| yaml_problem(id, file, e)));
            return None;
        }
    };
    if text.contains("${env:") {
        let mut pointer = String::new();
        substitute_env(id, &mut value, &mut pointer, problems, found);
    }
    Some(value)
}

fn empty_file(id: FileId, name: &str) -> Problem {
    Problem::error("empty_file", Place::Bytes(id, 0..0), format!("`{name}` holds no configuration"))
        .help("a file holds one or more of the sections `plans`, `models`, `roles`, `tenants` and `users`")
}

/// A YAML error as a problem at its place.
fn yaml_problem(id: FileId, file: &SourceFile, e: ComposeError) -> Problem {
    // A point error underlines the character at it.
    let at = |r: Range<usize>| {
        let start = file.floor_char(r.start);
        if r.end > start {
            start..r.end
        } else {
            start
                ..file.text[start..]
                    .chars()
                    .next()
                    .map_or(start, |c| start + c.len_utf8())
        }
    };
    match e {
        ComposeError::Syntax { message, at: r } => Problem::error("invalid_yaml", Place::Bytes(id, at(r)), message)
            .label("here")
            .help("fix the YAML syntax at this place"),
        ComposeError::Tab { message, at: r } => Problem::error("tab_indentation", Place::Bytes(id, at(r)), message)
            .label("tab")
            .help("YAML is indented with spaces; replace the tabs"),
        ComposeError::DuplicateKey { key, first, second } => {
            Problem::error("duplicate_key", Place::Bytes(id, second), format!("`{key}` is written twice in the same mapping"))
                .label("written again here")
                .related(Place::Bytes(id, first), "first written here")
                .help("a key may appear once per mapping; merge the two entries")
        }
        ComposeError::TooDeep { at: r } => {
            Problem::error("too_deep", Place::Bytes(id, at(r)), format!("nested deeper than {MAX_DEPTH} levels"))
                .help("a configuration nests a few levels only; this is not a configuration file")
        }
        ComposeError::AliasBudget { at: r } => Problem::error(
            "too_complex",
            Place::Bytes(id, at(r)),
            format!("aliases expand to more than {} values", super::yaml::compose::MAX_ALIAS_NODES),
        )
        .label("this alias")
        .help("aliases are limited (a guard against \"billion laughs\"); write the values out"),
        ComposeError::MultipleDocuments { at: r } => {
            Problem::error("multiple_documents", Place::Bytes(id, at(r)), "more than one YAML document in one file")
                .label("second document")
                .help("write one YAML document per file (no `---` separators); split the rest into other files")
        }
        ComposeError::ComplexKey { at: r } => Problem::error("invalid_yaml", Place::Bytes(id, at(r)), "a mapping key must be a plain value")
            .label("complex key")
            .help("keys are names, e-mails or identities; not lists or mappings"),
        ComposeError::NullKey { at: r } => Problem::error("invalid_yaml", Place::Bytes(id, at(r)), "a mapping key is empty or null")
            .label("null key")
            .help("write the key; quote it (`'null'`, `'~'`) if it is a name"),
        ComposeError::BadScalar { message, at: r } => Problem::error("invalid_value", Place::Bytes(id, at(r)), message).label("here"),
        ComposeError::BadMerge { at: r } => Problem::error("invalid_yaml", Place::Bytes(id, at(r)), "a `<<` merge key takes a mapping or a list of mappings")
            .label("in this mapping"),
    }
}
