//! Jiang & Pehlevan (2020), Fig. E.1 in the infinite-width limit: in the linear region (inputs of
//! norm r = 1) the trained Jacobian has n − 1 eigenvalues equal to 1 (Lemma 4), so about
//! (n − 1)/n0 of the spectrum sits at 1 and the training points are not attractors.
//!
//! One-hidden-layer sigmoid network, n0 = 10, n ∈ {2, 5, 8} random points of norm 1, f₀ = J₀ = 0;
//! the spectrum of J∞ at every training point of 20 data sets. The paper (finite networks of width
//! 1000) reports 10 %, 40 % and 70 % of the eigenvalues near 1.
//!
//! Writes `paper_fig_e1.csv` (every |eigenvalue|) and `paper_fig_e1.svg` (sorted |eigenvalues|).
//!
//! Run: `cargo run --release --example paper_fig_e1`

mod common;

use common::{Figure, Series, save, sphere};
use ntk::jacobian::{Spectrum, TrainedMap};
use ntk::{Activation, Network};

const N0: usize = 10;
const DATA_SETS: u64 = 20;
/// |λ| within this of 1 counts as "near 1" (the paper's histogram bin): the spectrum is two clusters,
/// 0.95–1.0 (Lemma 4's eigenvalue 1, moved by the sigmoid's curvature) and below 0.03 (λ̂ and the
/// zeros), so any cut between them gives the same count.
const NEAR: f64 = 0.1;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let net = Network::mlp(1, Activation::Sigmoid)
        .w_std(1.0)
        .width(1000)
        .build()?;
    let mut rows = Vec::new();
    let mut series = Vec::new();
    println!("Share of eigenvalues of J∞ with |λ| within {NEAR} of 1 (sigmoid, n0 = {N0}, r = 1)");
    println!(
        "{:>4} {:>10} {:>16} {:>10}",
        "n", "measured", "(n − 1)/n0", "paper"
    );
    for (n, paper) in [(2usize, 0.1), (5, 0.4), (8, 0.7)] {
        let mut moduli = Vec::new();
        for seed in 0..DATA_SETS {
            let x = sphere(n, N0, 1.0, 77 * seed + n as u64);
            let map = TrainedMap::params().autoencoder(&net, &x)?;
            for i in 0..n {
                let xi: Vec<f64> = x.row(i).iter().copied().collect();
                let s = Spectrum::of(&map.jacobian(&xi)?)?;
                moduli.extend(s.eigenvalues.iter().map(|z| z.norm()));
            }
        }
        let near = moduli.iter().filter(|m| (*m - 1.0).abs() <= NEAR).count();
        let share = near as f64 / moduli.len() as f64;
        println!(
            "{n:>4} {:>9.1}% {:>15.1}% {:>9.0}%",
            100.0 * share,
            100.0 * (n - 1) as f64 / N0 as f64,
            100.0 * paper
        );
        rows.extend(moduli.iter().map(|&m| vec![n as f64, m]));
        let mut sorted = moduli.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let total = sorted.len() as f64;
        series.push(Series {
            label: format!("n = {n}"),
            points: sorted
                .iter()
                .enumerate()
                .map(|(k, &m)| ((k as f64 + 0.5) / total, m))
                .collect(),
        });
    }
    save(
        &Figure {
            name: "paper_fig_e1",
            title: "|eigenvalues| of J∞ in the linear region (sigmoid, n0 = 10, r = 1)",
            axes: ("fraction of eigenvalues (sorted)", "|eigenvalue|"),
            log_x: false,
            hlines: &[1.0],
        },
        "n,abs_eigenvalue",
        &rows,
        &series,
        start,
    )?;
    Ok(())
}
