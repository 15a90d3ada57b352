//! `ntk kernel`: the NNGP and NTK matrices of a network on one or two point sets, whole or one
//! tile (`--rows a..b --cols c..d`) at a time.

use crate::io::{Output, Rows, Span, ToNpy, Values, read_network, read_points, write_output};
use crate::{Failure, synopsis};
use nalgebra::DMatrix;
use nalgebra::DVector;
use ntk::{Kernel, KernelKind, KernelMatrices};
use serde::Serialize;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The NNGP and NTK matrices of a network on one or two point sets
///
/// Output: {"nngp": [[...]], "ntk": [[...]], "cov1": [...], "cov2": [...]}, with one row per point of
/// x1 and one column per point of x2 (or of x1 without --x2); cov1 and cov2 are the NNGP variances
/// Σ(x, x) of the points of x1 and of x2. With --rows/--cols only that block ("tile") is computed,
/// bit for bit as in the whole matrix, and the output also holds "rows": [a, b] and "cols": [c, d];
/// with --kernel only that kernel is written (--out FILE.npy writes it as a bare .npy array).
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Network spec (JSON), e.g. {"parameterization": "ntk", "layers": [{"dense": {"w_std": 1.5, "b_std": 0.1}}, {"relu": {}}, {"dense": {"w_std": 1.5}}]}
    ///
    /// An omitted b_std means the layer has no bias; a Dense layer's "width" only matters for
    /// "parameterization": "standard".
    #[arg(long, value_name = "NET.json")]
    spec: PathBuf,
    /// Points, one per row: CSV without header, or .npy (float64: 2-D, or (n, H, W, C) / (n, L, C) matching the spec's input_shape)
    #[arg(long, value_name = "A")]
    x1: PathBuf,
    /// Second point set, with as many columns as x1 [default: the Gram matrix of x1]
    #[arg(long, value_name = "B")]
    x2: Option<PathBuf>,
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (arrays nngp, ntk, cov1, cov2), or .npy (the one kernel of --kernel, as a 2-D float64 array)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Compute only the rows a..b of the matrix (points of --x1): half-open, counting from 0; `a..` runs to the last point, `..b` starts at the first [default: all]
    #[arg(long, value_name = "a..b", value_parser = tile_range)]
    rows: Option<TileRange>,
    /// Compute only the columns c..d (points of --x2, or of --x1 without --x2), as --rows
    #[arg(long, value_name = "c..d", value_parser = tile_range)]
    cols: Option<TileRange>,
    /// Write only this kernel (required for --out FILE.npy)
    #[arg(long, value_enum, value_name = "nngp|ntk")]
    kernel: Option<KernelArg>,
}

/// The `--kernel` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KernelArg {
    /// The NNGP Σ.
    Nngp,
    /// The NTK Θ.
    Ntk,
}

/// A `--rows` / `--cols` range as given: `a..b`, `a..`, `..b` or `..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TileRange {
    start: Option<usize>,
    end: Option<usize>,
}

impl TileRange {
    /// The range over `n` points (open ends filled in); the library checks it against n.
    fn resolve(self, n: usize) -> Range<usize> {
        self.start.unwrap_or(0)..self.end.unwrap_or(n)
    }
}

/// Parses `a..b`, `a..`, `..b` or `..` (non-negative integers, a < b).
fn tile_range(text: &str) -> Result<TileRange, String> {
    let usage = "expected a..b (half-open: points a to b − 1, counting from 0), a.. or ..b";
    let (a, b) = text
        .trim()
        .split_once("..")
        .ok_or_else(|| format!("`{text}`: {usage}"))?;
    let bound = |s: &str| -> Result<Option<usize>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<usize>()
            .map(Some)
            .map_err(|_| format!("`{s}` is not a point index (an integer ≥ 0); {usage}"))
    };
    let range = TileRange {
        start: bound(a)?,
        end: bound(b)?,
    };
    if let (Some(a), Some(b)) = (range.start, range.end) {
        if a >= b {
            return Err(format!(
                "{a}..{b} is empty or reversed (start {a} ≥ end {b}); ranges are half-open a..b \
                 with a < b"
            ));
        }
    }
    Ok(range)
}

/// The output: the kernel matrices by rows (one left out with --kernel), both variance lists, and
/// for a tile its ranges.
#[derive(Serialize)]
struct KernelOutput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    nngp: Option<Rows<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ntk: Option<Rows<'a>>,
    cov1: Values,
    cov2: Values,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Span>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cols: Option<Span>,
}

impl Output for KernelOutput<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        let mut arrays: Vec<(&'static str, &dyn ToNpy)> = Vec::new();
        if let Some(k) = &self.nngp {
            arrays.push(("nngp", k));
        }
        if let Some(k) = &self.ntk {
            arrays.push(("ntk", k));
        }
        arrays.push(("cov1", &self.cov1));
        arrays.push(("cov2", &self.cov2));
        if let Some(r) = &self.rows {
            arrays.push(("rows", r));
        }
        if let Some(c) = &self.cols {
            arrays.push(("cols", c));
        }
        arrays
    }
}

/// A bar over `total` kernel entries on stderr, with the rate and the time left; indicatif hides it
/// when stderr is not a terminal (pipes, files, tests), so scripts see only the result.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {percent:>3}% of {human_len} entries, {elapsed} elapsed, about {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Runs `ntk kernel`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let npy_out = args.out.as_deref().filter(|p| is_npy(p));
    if npy_out.is_some() && args.kernel.is_none() {
        return Err(Failure::Usage(
            "--out FILE.npy holds one array: add --kernel nngp or --kernel ntk (or write both \
             kernels to FILE.npz or JSON)"
                .into(),
        ));
    }
    let net = read_network(&args.spec)?;
    let x1 = read_points("--x1", &args.x1, &net)?;
    let x2 = match &args.x2 {
        Some(path) => Some(read_points("--x2", path, &net)?),
        None => None,
    };
    let (n1, n2) = (x1.nrows(), x2.as_ref().map_or(x1.nrows(), |x| x.nrows()));
    let tile = args.rows.is_some() || args.cols.is_some();
    let rows = args.rows.map_or(0..n1, |r| r.resolve(n1));
    let cols = args.cols.map_or(0..n2, |c| c.resolve(n2));
    if tile {
        ntk::kernel::check_tile_range("--rows", &rows, n1)?;
        ntk::kernel::check_tile_range("--cols", &cols, n2)?;
    }
    let kind = args.kernel.map(|k| match k {
        KernelArg::Nngp => KernelKind::Nngp,
        KernelArg::Ntk => KernelKind::Ntk,
    });
    // Saturating: a header may declare 2⁶⁴ − 1 points of no features, which `gram` then rejects.
    let (n1, entries) = (n1 as u64, rows.len() as u64);
    let bar = progress_bar(match (&x2, tile) {
        (None, false) => n1.saturating_mul(n1.saturating_add(1)) / 2,
        _ => entries.saturating_mul(cols.len() as u64),
    });
    if let (None, true, Some(kind)) = (&x2, tile, kind) {
        // One kernel of a Gram tile: the other is never allocated (a cluster task's memory is
        // the points and one tile).
        let (r, c) = (rows.clone(), cols.clone());
        let m = net.gram_tile_kind_with_progress(&x1, r, c, kind, &|k| bar.inc(k));
        bar.finish_and_clear();
        let m = m?;
        let part = |r: &Range<usize>| x1.rows(r.start, r.len()).into_owned();
        let (cov1, cov2) = (net.diagonal(&part(&rows))?, net.diagonal(&part(&cols))?);
        let covs = (&cov1.nngp, &cov2.nngp);
        return write(args, kind, &m, covs, Some((rows, cols)));
    }
    let k: ntk::Result<KernelMatrices> = match (&x2, tile) {
        (None, false) => net.gram_with_progress(&x1, &|k| bar.inc(k)),
        (None, true) => {
            net.gram_tile_with_progress(&x1, rows.clone(), cols.clone(), &|k| bar.inc(k))
        }
        (Some(x2), false) => net.cross_with_progress(&x1, x2, &|k| bar.inc(k)),
        (Some(x2), true) => {
            // A tile of a cross matrix is the cross matrix of the two slices, bit for bit.
            let part = |x: &DMatrix<f64>, r: &Range<usize>| x.rows(r.start, r.len()).into_owned();
            let (a, b) = (part(&x1, &rows), part(x2, &cols));
            net.cross_with_progress(&a, &b, &|k| bar.inc(k))
        }
    };
    bar.finish_and_clear();
    let k = k?;
    let ranges = tile.then_some((rows, cols));
    match kind {
        Some(kind) => {
            let m = match kind {
                KernelKind::Nngp => &k.nngp,
                KernelKind::Ntk => &k.ntk,
            };
            write(args, kind, m, (&k.cov1, &k.cov2), ranges)
        }
        None => {
            let output = KernelOutput {
                nngp: Some(Rows(&k.nngp)),
                ntk: Some(Rows(&k.ntk)),
                cov1: Values(k.cov1.as_slice().to_vec()),
                cov2: Values(k.cov2.as_slice().to_vec()),
                rows: ranges.as_ref().map(|(r, _)| Span(r.start, r.end)),
                cols: ranges.as_ref().map(|(_, c)| Span(c.start, c.end)),
            };
            Ok(write_output(args.out.as_deref(), &output)?)
        }
    }
}

/// Writes the one kernel `m` of `--kernel`: a bare `.npy` array, or the output with that kernel's
/// key alone and the variances `cov1`, `cov2`.
fn write(
    args: &Args,
    kind: KernelKind,
    m: &DMatrix<f64>,
    (cov1, cov2): (&DVector<f64>, &DVector<f64>),
    ranges: Option<(Range<usize>, Range<usize>)>,
) -> Result<(), Failure> {
    if let Some(path) = args.out.as_deref().filter(|p| is_npy(p)) {
        return Ok(ntk::io::save_npy(path, m)?);
    }
    let output = KernelOutput {
        nngp: (kind == KernelKind::Nngp).then_some(Rows(m)),
        ntk: (kind == KernelKind::Ntk).then_some(Rows(m)),
        cov1: Values(cov1.as_slice().to_vec()),
        cov2: Values(cov2.as_slice().to_vec()),
        rows: ranges.as_ref().map(|(r, _)| Span(r.start, r.end)),
        cols: ranges.as_ref().map(|(_, c)| Span(c.start, c.end)),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}
