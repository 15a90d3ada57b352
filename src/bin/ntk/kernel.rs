//! `ntk kernel`: the NNGP and NTK matrices of a network on one or two point sets.

use crate::io::{Output, Rows, ToNpy, Values, read_network, read_points, write_output};
use crate::{Failure, synopsis};
use ntk::{Kernel, KernelMatrices};
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

/// Runs `ntk kernel`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let net = read_network(&args.spec)?;
    let x1 = read_points("--x1", &args.x1, &net)?;
    let k: KernelMatrices = match &args.x2 {
        None => net.gram(&x1)?,
        Some(path) => net.cross(&x1, &read_points("--x2", path, &net)?)?,
    };
    let output = KernelOutput {
        nngp: Rows(&k.nngp),
        ntk: Rows(&k.ntk),
        cov1: Values(k.cov1.as_slice().to_vec()),
        cov2: Values(k.cov2.as_slice().to_vec()),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}
