//! `ntk` — the command-line front end of the `ntk` crate.
//!
//! ```text
//! ntk kernel --spec NET.json --x1 A.csv [--x2 B.npy] [--out OUT.json]
//! ```
//!
//! Reads a network spec (the JSON form of [`ntk::Network`]) and one or two point sets (CSV or `.npy`,
//! one point per row), and writes the NNGP and NTK matrices with the NNGP variances as JSON. The
//! argument parser is hand-written on purpose: one subcommand with four flags does not justify a
//! dependency.
//!
//! Exit codes: 0 on success, 2 when the command line itself is wrong (so scripts can tell a typo from
//! a bad input file), 1 for every other failure. Every message goes to stderr as `error: <message>`.

use nalgebra::DMatrix;
use ntk::{Error, Kernel, KernelMatrices, Network};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
ntk — NNGP and NTK kernels of infinitely wide fully connected networks

Usage:
  ntk kernel --spec NET.json --x1 A.csv [--x2 B.csv] [--out OUT.json]
  ntk --help | ntk kernel --help

Options of `ntk kernel`:
  --spec NET.json  network spec, e.g.
                   {\"parameterization\": \"ntk\", \"layers\": [
                     {\"dense\": {\"w_std\": 1.5, \"b_std\": 0.1}}, {\"relu\": {}},
                     {\"dense\": {\"w_std\": 1.5}}]}
  --x1 A           points, one per row: CSV without header, or .npy (float64, 2-D)
  --x2 B           second point set (same number of columns); without it the
                   Gram matrix of x1 is computed
  --out OUT.json   write the result here instead of to standard output
  -h, --help       print this help

Output: a JSON object {\"nngp\": [[...]], \"ntk\": [[...]], \"cov1\": [...], \"cov2\": [...]}
with one row per point of x1 and one column per point of x2 (or x1); cov1 and cov2
are the NNGP variances of the points of x1 and x2. Numbers round-trip exactly.
Flags also accept the form --flag=VALUE.

Exit status: 0 on success, 2 for a malformed command line, 1 for any other error.
";

/// Why the tool stopped; the variant decides the exit code.
#[derive(Debug)]
enum CliError {
    /// The command line is malformed (exit code 2).
    Usage(String),
    /// The command line was fine but reading, computing or writing failed (exit code 1).
    Failed(Error),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Failed(e)
    }
}

/// What the command line asks for.
#[derive(Debug)]
enum Command {
    Help,
    Kernel(KernelArgs),
}

/// The flags of `ntk kernel`, all validated as present where required.
#[derive(Debug)]
struct KernelArgs {
    spec: PathBuf,
    x1: PathBuf,
    x2: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    // `args_os`, not `args`: the latter panics on a path that is not valid UTF-8.
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match parse_command(&args).and_then(execute) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(msg)) => {
            eprintln!("error: {msg}\nrun `ntk --help` for usage");
            ExitCode::from(2)
        }
        Err(CliError::Failed(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn execute(command: Command) -> Result<(), CliError> {
    match command {
        Command::Help => write_stdout(USAGE)?,
        Command::Kernel(args) => run_kernel(&args)?,
    }
    Ok(())
}

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

fn is_help(arg: &OsString) -> bool {
    arg == "--help" || arg == "-h"
}

fn parse_command(args: &[OsString]) -> Result<Command, CliError> {
    let Some((first, rest)) = args.split_first() else {
        return Err(usage("missing subcommand (expected `kernel`)"));
    };
    if is_help(first) || first == "help" {
        return Ok(Command::Help);
    }
    if first == "kernel" {
        return parse_kernel_args(rest);
    }
    Err(usage(format!(
        "unknown subcommand `{}` (expected `kernel`)",
        first.to_string_lossy()
    )))
}

/// Parses the flags after `kernel`, left to right; `--help` anywhere before an error wins.
fn parse_kernel_args(args: &[OsString]) -> Result<Command, CliError> {
    let (mut spec, mut x1, mut x2, mut out) = (None, None, None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if is_help(arg) {
            return Ok(Command::Help);
        }
        let (name, inline_value) = split_flag(arg)?;
        let slot = match name.as_str() {
            "--spec" => &mut spec,
            "--x1" => &mut x1,
            "--x2" => &mut x2,
            "--out" => &mut out,
            _ => return Err(usage(format!("unknown flag `{name}` for `ntk kernel`"))),
        };
        let value = match inline_value {
            Some(v) => v,
            None => rest.next().cloned().unwrap_or_default(),
        };
        // A following flag is almost certainly a forgotten value, not a file named `--x1`.
        if value.is_empty() || value.to_string_lossy().starts_with("--") {
            return Err(usage(format!(
                "flag `{name}` needs a file path as its value"
            )));
        }
        if slot.replace(PathBuf::from(value)).is_some() {
            return Err(usage(format!("flag `{name}` given more than once")));
        }
    }
    let required = |slot: Option<PathBuf>, name: &str, what: &str| {
        slot.ok_or_else(|| usage(format!("missing required flag `{name}` ({what})")))
    };
    Ok(Command::Kernel(KernelArgs {
        spec: required(spec, "--spec", "the network spec JSON file")?,
        x1: required(x1, "--x1", "the CSV or .npy file of input points")?,
        x2,
        out,
    }))
}

/// Splits `--flag=value` into its name and value; a bare `--flag` has no inline value.
fn split_flag(arg: &OsString) -> Result<(String, Option<OsString>), CliError> {
    // Flag names are ASCII, so an argument that is not UTF-8 cannot be one. (A non-UTF-8 path is
    // still accepted as a separate argument, `--x1 PATH`, just not glued on as `--x1=PATH`.)
    let Some(text) = arg.to_str() else {
        return Err(usage(format!(
            "unexpected argument `{}`",
            arg.to_string_lossy()
        )));
    };
    if !text.starts_with('-') {
        return Err(usage(format!(
            "unexpected argument `{text}` (paths are given with --spec, --x1, --x2, --out)"
        )));
    }
    Ok(match text.split_once('=') {
        Some((name, value)) => (name.to_string(), Some(value.into())),
        None => (text.to_string(), None),
    })
}

fn run_kernel(args: &KernelArgs) -> ntk::Result<()> {
    let net = read_network(&args.spec)?;
    let x1 = read_points("--x1", &args.x1)?;
    let k = match &args.x2 {
        None => net.gram(&x1)?,
        Some(path) => net.cross(&x1, &read_points("--x2", path)?)?,
    };
    let json = render(&k)?;
    match &args.out {
        Some(path) => std::fs::write(path, json)
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display()))),
        None => write_stdout(&json),
    }
}

fn read_network(path: &Path) -> ntk::Result<Network> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Io(format!(
            "cannot read the network spec {}: {e}",
            path.display()
        ))
    })?;
    // Name the file in spec errors: the library's message cannot know where the JSON came from.
    Network::from_json(&text).map_err(|e| match e {
        Error::InvalidNetwork(msg) => Error::InvalidNetwork(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Reads a point set and rejects NaN/±∞ here, where the flag and file are known: the library can
/// only name the argument (`x` for a Gram matrix) and counts rows from 0, unlike CSV line numbers.
fn read_points(flag: &str, path: &Path) -> ntk::Result<DMatrix<f64>> {
    let x = ntk::io::read_matrix(path)?;
    if let Some(((i, j), value)) = first_non_finite(&x) {
        return Err(Error::NonFinite {
            what: format!("{flag} {}", path.display()),
            location: format!("row {}, column {} (counting from 1)", i + 1, j + 1),
            value,
        });
    }
    Ok(x)
}

/// The first non-finite entry in row-major order (the order of the file), if any.
///
/// Scans the stored entries rather than looping over rows and columns: a `.npy` header may declare
/// an absurd row count with zero columns, and a row loop would then spin without touching any data.
fn first_non_finite(x: &DMatrix<f64>) -> Option<((usize, usize), f64)> {
    let n = x.nrows();
    // Column-major storage: entry k is row k % n, column k / n.
    x.as_slice()
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_finite())
        .map(|(k, &v)| ((k % n, k / n), v))
        .min_by_key(|&(ij, _)| ij)
}

/// The output JSON, one matrix row per line so that it stays readable for small inputs.
fn render(k: &KernelMatrices) -> ntk::Result<String> {
    let fields = [
        ("nngp", matrix_json(&k.nngp)?),
        ("ntk", matrix_json(&k.ntk)?),
        ("cov1", list_json(k.cov1.iter().copied())?),
        ("cov2", list_json(k.cov2.iter().copied())?),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("  \"{name}\": {value}"))
        .collect();
    Ok(format!("{{\n{}\n}}\n", body.join(",\n")))
}

/// A matrix as a JSON array of its rows (nalgebra stores columns, so rows are walked explicitly).
fn matrix_json(m: &DMatrix<f64>) -> ntk::Result<String> {
    if m.nrows() == 0 {
        return Ok("[]".into());
    }
    let rows = m
        .row_iter()
        .map(|row| list_json(row.iter().copied()))
        .collect::<ntk::Result<Vec<_>>>()?;
    Ok(format!("[\n    {}\n  ]", rows.join(",\n    ")))
}

fn list_json(values: impl Iterator<Item = f64>) -> ntk::Result<String> {
    let items = values.map(json_number).collect::<ntk::Result<Vec<_>>>()?;
    Ok(format!("[{}]", items.join(", ")))
}

/// Shortest round-trip decimal form (the one serde_json writes). JSON has no NaN or ∞, and writing
/// `null` would silently corrupt the matrix, so a non-finite value is an error — the library already
/// reports overflow, so this is only a guard.
fn json_number(value: f64) -> ntk::Result<String> {
    serde_json::Number::from_f64(value)
        .map(|n| n.to_string())
        .ok_or_else(|| Error::NonFinite {
            what: "the computed kernel".into(),
            location: "output".into(),
            value,
        })
}

fn write_stdout(text: &str) -> ntk::Result<()> {
    // Not `print!`: it panics when stdout is closed (e.g. piped into `head`).
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::Io(format!("cannot write to standard output: {e}")))
}
