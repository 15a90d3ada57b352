//! `ntk kernel`: the NNGP and NTK matrices of a network on one or two point sets.

use crate::io::{Output, Rows, ToNpy, Values, read_network, read_points, write_output};
use crate::{Failure, synopsis};
use ntk::KernelMatrices;
use serde::Serialize;
use std::path::PathBuf;

/// The NNGP and NTK matrices of a network on one or two point sets
///
/// Output: {"nngp": [[...]], "ntk": [[...]], "cov1": [...], "cov2": [...]}, with one row per point of
/// x1 and one column per point of x2 (or of x1 without --x2); cov1 and cov2 are the NNGP variances
/// Σ(x, x) of the points of x1 and of x2.
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
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (arrays nngp, ntk, cov1, cov2)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

/// The output: the kernel matrices by rows, and both variance lists.
#[derive(Serialize)]
struct KernelOutput<'a> {
    nngp: Rows<'a>,
    ntk: Rows<'a>,
    cov1: Values,
    cov2: Values,
}

impl Output for KernelOutput<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        vec![
            ("nngp", &self.nngp),
            ("ntk", &self.ntk),
            ("cov1", &self.cov1),
            ("cov2", &self.cov2),
        ]
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

/// Runs `ntk kernel`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let net = read_network(&args.spec)?;
    let x1 = read_points("--x1", &args.x1, &net)?;
    let k: KernelMatrices = match &args.x2 {
        None => {
            let n = x1.nrows() as u64;
            let bar = progress_bar(n * (n + 1) / 2);
            let k = net.gram_with_progress(&x1, &|k| bar.inc(k));
            bar.finish_and_clear();
            k?
        }
        Some(path) => {
            let x2 = read_points("--x2", path, &net)?;
            let bar = progress_bar((x1.nrows() * x2.nrows()) as u64);
            let k = net.cross_with_progress(&x1, &x2, &|k| bar.inc(k));
            bar.finish_and_clear();
            k?
        }
    };
    let output = KernelOutput {
        nngp: Rows(&k.nngp),
        ntk: Rows(&k.ntk),
        cov1: Values(k.cov1.as_slice().to_vec()),
        cov2: Values(k.cov2.as_slice().to_vec()),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}
