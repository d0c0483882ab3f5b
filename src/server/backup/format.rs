//! The backup file format, version 1 (documented in `docs/backup.md`):
//!
//! ```text
//! "TENANTCTL-BACKUP\n"  magic, 17 bytes
//! u32 BE                format version (1)
//! u32 BE + bytes        the header, JSON (`Header`)
//! gzip member           the rows: frames T(table) R(row)… E(count) per table, then Z
//! 32 bytes              SHA-256 of every byte before it
//! ```
//!
//! Written and read synchronously, as streams: the writer hashes what it writes, the reader
//! checks the digest in a first pass ([`check_digest`]) before it parses anything.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BackupError;
use crate::server::store::catalog::Value;

pub const MAGIC: &[u8] = b"TENANTCTL-BACKUP\n";
pub const FORMAT_VERSION: u32 = 1;
const DIGEST_LEN: u64 = 32;
/// Above this, a header or a value's length is corruption, not data.
const MAX_HEADER: u32 = 64 << 20;
const MAX_VALUE: u64 = 1 << 30;

/// What a backup says about itself, before its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The tenantctl that wrote it.
    pub tenantctl_version: String,
    /// `sqlite` or `postgres`.
    pub source_engine: String,
    /// The schema version: the migrations the database had run, in order.
    pub schema: Vec<SchemaStep>,
    /// The platform's state revision at the snapshot.
    pub revision: i64,
    /// What the platform's rule check found on the state (`code kind/key`, sorted): a
    /// restore must find the same.
    pub violations: Vec<String>,
    /// Every table, in the order their rows follow.
    pub tables: Vec<TableHeader>,
}

/// One migration of the schema version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaStep {
    pub version: i64,
    pub description: String,
}

/// One table: its columns and how many rows follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableHeader {
    pub name: String,
    pub rows: u64,
    pub columns: Vec<ColumnHeader>,
}

/// One column: its name, engine-independent type and type as declared at the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnHeader {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub declared: String,
}

impl Header {
    /// How many rows the backup holds.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a backup: the header at once, then rows table by table, then the digest.
pub struct Writer<W: Write> {
    gz: GzEncoder<Hashing<W>>,
}

fn put_varint(w: &mut impl Write, mut n: u64) -> io::Result<()> {
    let mut buf = [0u8; 10];
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[i] = byte;
            i += 1;
            break;
        }
        buf[i] = byte | 0x80;
        i += 1;
    }
    w.write_all(&buf[..i])
}

fn put_bytes(w: &mut impl Write, b: &[u8]) -> io::Result<()> {
    put_varint(w, b.len() as u64)?;
    w.write_all(b)
}

impl<W: Write> Writer<W> {
    /// Starts a backup on `out` with its header.
    pub fn new(out: W, header: &Header) -> io::Result<Writer<W>> {
        let mut h = Hashing {
            inner: out,
            sha: Sha256::new(),
            bytes: 0,
        };
        let json = serde_json::to_vec(header).map_err(io::Error::other)?;
        let len = u32::try_from(json.len())
            .ok()
            .filter(|n| *n <= MAX_HEADER)
            .ok_or_else(|| io::Error::other("the backup header is too large"))?;
        h.write_all(MAGIC)?;
        h.write_all(&FORMAT_VERSION.to_be_bytes())?;
        h.write_all(&len.to_be_bytes())?;
        h.write_all(&json)?;
        Ok(Writer {
            gz: GzEncoder::new(h, flate2::Compression::fast()),
        })
    }

    /// The rows of table number `index` (in the header's order) follow.
    pub fn table(&mut self, index: usize) -> io::Result<()> {
        self.gz.write_all(b"T")?;
        put_varint(&mut self.gz, index as u64)
    }

    /// One row, its values in the table's column order.
    pub fn row(&mut self, values: &[Value]) -> io::Result<()> {
        self.gz.write_all(b"R")?;
        for v in values {
            match v {
                Value::Null => self.gz.write_all(&[0])?,
                Value::Integer(i) => {
                    self.gz.write_all(&[1])?;
                    self.gz.write_all(&i.to_be_bytes())?;
                }
                Value::Real(f) => {
                    self.gz.write_all(&[2])?;
                    self.gz.write_all(&f.to_bits().to_be_bytes())?;
                }
                Value::Text(s) => {
                    self.gz.write_all(&[3])?;
                    put_bytes(&mut self.gz, s.as_bytes())?;
                }
                Value::Blob(b) => {
                    self.gz.write_all(&[4])?;
                    put_bytes(&mut self.gz, b)?;
                }
            }
        }
        Ok(())
    }

    /// The table's rows are over: there were `rows`.
    pub fn end_table(&mut self, rows: u64) -> io::Result<()> {
        self.gz.write_all(b"E")?;
        put_varint(&mut self.gz, rows)
    }

    /// Ends the rows and appends the digest; returns the output and the file's size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.gz.write_all(b"Z")?;
        let h = self.gz.finish()?;
        let digest = h.sha.finalize();
        let mut out = h.inner;
        out.write_all(&digest)?;
        out.flush()?;
        Ok((out, h.bytes + DIGEST_LEN))
    }
}

/// Checks the digest at the end of the file against the bytes before it: a truncated or
/// edited file is refused before anything of it is parsed. Returns the file's size.
pub fn check_digest(path: &Path) -> Result<u64, BackupError> {
    let io_err = |source| BackupError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut f = File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    if len < MAGIC.len() as u64 + 8 + DIGEST_LEN {
        return Err(BackupError::NotABackup {
            path: path.display().to_string(),
            why: format!("it is {len} bytes long, shorter than any backup"),
        });
    }
    let mut magic = vec![0u8; MAGIC.len()];
    f.read_exact(&mut magic).map_err(io_err)?;
    if magic != MAGIC {
        return Err(BackupError::NotABackup {
            path: path.display().to_string(),
            why: "it does not start with `TENANTCTL-BACKUP`".into(),
        });
    }
    f.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut sha = Sha256::new();
    let mut body = BufReader::with_capacity(1 << 16, (&mut f).take(len - DIGEST_LEN));
    loop {
        let buf = body.fill_buf().map_err(io_err)?;
        if buf.is_empty() {
            break;
        }
        sha.update(buf);
        let n = buf.len();
        body.consume(n);
    }
    let mut stored = [0u8; DIGEST_LEN as usize];
    f.read_exact(&mut stored).map_err(io_err)?;
    if sha.finalize().as_slice() != stored {
        return Err(BackupError::Checksum {
            path: path.display().to_string(),
        });
    }
    Ok(len)
}

/// One frame of the rows.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Table(usize),
    Row(Vec<Value>),
    End(u64),
}

/// Reads a backup whose digest was checked: the header, then frame by frame.
pub struct Reader {
    pub header: Header,
    gz: GzDecoder<BufReader<io::Take<File>>>,
    path: String,
    /// The number of columns of the current table.
    columns: Option<usize>,
    done: bool,
}

impl Reader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<Reader, BackupError> {
        let p = path.display().to_string();
        let io_err = |source| BackupError::Read {
            path: p.clone(),
            source,
        };
        let f = File::open(path).map_err(io_err)?;
        let len = f.metadata().map_err(io_err)?.len();
        let mut r = BufReader::with_capacity(1 << 16, f.take(len.saturating_sub(DIGEST_LEN)));
        let mut magic = vec![0u8; MAGIC.len()];
        let mut word = [0u8; 4];
        r.read_exact(&mut magic).map_err(io_err)?;
        if magic != MAGIC {
            return Err(BackupError::NotABackup {
                path: p,
                why: "it does not start with `TENANTCTL-BACKUP`".into(),
            });
        }
        r.read_exact(&mut word).map_err(io_err)?;
        let version = u32::from_be_bytes(word);
        if version != FORMAT_VERSION {
            return Err(BackupError::FormatVersion {
                path: p,
                found: version,
                ours: FORMAT_VERSION,
            });
        }
        r.read_exact(&mut word).map_err(io_err)?;
        let hlen = u32::from_be_bytes(word);
        if hlen > MAX_HEADER {
            return Err(BackupError::corrupt(&p, "its header length is impossible"));
        }
        let mut json = vec![0u8; hlen as usize];
        r.read_exact(&mut json).map_err(io_err)?;
        let header: Header = serde_json::from_slice(&json)
            .map_err(|e| BackupError::corrupt(&p, format!("its header is not valid: {e}")))?;
        Ok(Reader {
            header,
            gz: GzDecoder::new(r),
            path: p,
            columns: None,
            done: false,
        })
    }

    fn corrupt(&self, message: impl Into<String>) -> BackupError {
        BackupError::corrupt(&self.path, message)
    }

    fn read_err(&self, e: io::Error) -> BackupError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.corrupt("its rows end early")
        } else {
            self.corrupt(format!("its rows do not decompress: {e}"))
        }
    }

    fn byte(&mut self) -> Result<u8, BackupError> {
        let mut b = [0u8; 1];
        self.gz.read_exact(&mut b).map_err(|e| self.read_err(e))?;
        Ok(b[0])
    }

    fn eight(&mut self) -> Result<[u8; 8], BackupError> {
        let mut b = [0u8; 8];
        self.gz.read_exact(&mut b).map_err(|e| self.read_err(e))?;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, BackupError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(self.corrupt("a length is too long"))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, BackupError> {
        let len = self.varint()?;
        if len > MAX_VALUE {
            return Err(self.corrupt("a value's length is impossible"));
        }
        let mut buf = Vec::with_capacity(len as usize);
        (&mut self.gz)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| self.read_err(e))?;
        if buf.len() as u64 != len {
            return Err(self.corrupt("its rows end early"));
        }
        Ok(buf)
    }

    /// The next frame, or None after the end marker (having checked nothing follows it).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, BackupError> {
        if self.done {
            return Ok(None);
        }
        match self.byte()? {
            b'T' => {
                let i = self.varint()? as usize;
                let t = self.header.tables.get(i).ok_or_else(|| {
                    self.corrupt(format!("table number {i} is not in its header"))
                })?;
                self.columns = Some(t.columns.len());
                Ok(Some(Frame::Table(i)))
            }
            b'R' => {
                let n = self
                    .columns
                    .ok_or_else(|| self.corrupt("a row comes before any table"))?;
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    values.push(match self.byte()? {
                        0 => Value::Null,
                        1 => Value::Integer(i64::from_be_bytes(self.eight()?)),
                        2 => Value::Real(f64::from_bits(u64::from_be_bytes(self.eight()?))),
                        3 => Value::Text(
                            String::from_utf8(self.bytes()?)
                                .map_err(|_| self.corrupt("a text value is not UTF-8"))?,
                        ),
                        4 => Value::Blob(self.bytes()?),
                        t => return Err(self.corrupt(format!("unknown value type {t}"))),
                    });
                }
                Ok(Some(Frame::Row(values)))
            }
            b'E' => {
                self.columns = None;
                Ok(Some(Frame::End(self.varint()?)))
            }
            b'Z' => {
                self.done = true;
                let mut rest = [0u8; 1];
                if self.gz.read(&mut rest).map_err(|e| self.read_err(e))? != 0 {
                    return Err(self.corrupt("data follows its end marker"));
                }
                let trailing = match self.gz.get_mut().fill_buf() {
                    Ok(rest) => !rest.is_empty(),
                    Err(e) => return Err(self.read_err(e)),
                };
                if trailing {
                    return Err(self.corrupt("data follows its compressed rows"));
                }
                Ok(None)
            }
            f => Err(self.corrupt(format!("unknown frame `{}`", f.escape_ascii()))),
        }
    }
}
