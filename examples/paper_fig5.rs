//! Jiang & Pehlevan (2020), Fig. 5 in the infinite-width limit: the same transition for other
//! sigmoidal activations. Largest |eigenvalue| of J∞ at the training points against the input radius,
//! n0 = 32, n = 20, one hidden layer (σ_w = 1, no bias), mean of 2 data sets.
//!
//! Where an activation leaves its linear region depends on the width of that region, not on its
//! slope at 0: tanh(x) = 2σ(2x) − 1 is the logistic sigmoid σ compressed twofold, and
//! erf(x) = 2σ̂(2x) − 1 the erf-sigmoid σ̂(x) = ½erf(x/2) + ½ likewise. An output scale leaves J∞
//! unchanged and an offset only adds a constant to the kernel, so the tanh and erf curves are
//! close to the sigmoids' curves at half the radius: they leave the linear region at smaller r
//! (0.86 and 0.83 at r = 10 against 0.95–0.97) and every curve ends at ½. (Slopes at 0: ¼ for σ,
//! 1/(2√π) ≈ 0.28 for σ̂, 1/(2.402√π) ≈ 0.23 for neural-tangents' sigmoid-like, 1 for tanh and
//! 2/√π ≈ 1.13 for erf.)
//!
//! By default f₀ = J₀ = 0, and every curve starts at 1. The paper's finite networks (width 10000)
//! keep J₀, whose operator norm is about 2φ'(0) at small r (§4.1) — above 1 for tanh and erf, which
//! is why the paper sees "large eigenvalues" for them at small r, outside Lemma 3's condition
//! ‖J₀‖ < 1 (§5.6). `--finite-init WIDTH` takes f₀ and J₀ from one sampled network of that hidden
//! width per data set and shows it (docs/jacobians.md).
//!
//! Writes `paper_fig5.csv` and `paper_fig5.svg` (`paper_fig5_finite<WIDTH>.*` with `--finite-init`).
//!
//! Run: `cargo run --release --example paper_fig5 [-- --finite-init 10000]`

mod common;

use common::{Figure, Init, Series, largest_eigenvalue, logspace, save};
use ntk::{Activation, Network};

const N0: usize = 32;
const N: usize = 20;
const SEEDS: u64 = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let init = Init::from_args()?;
    let acts = [
        ("sigmoid", Activation::Sigmoid),
        ("erf-sigmoid ½erf(x/2)+½", Activation::SigmoidErf),
        ("sigmoid-like (NT)", Activation::SigmoidLike),
        (
            "erf",
            Activation::Erf {
                a: 1.0,
                b: 1.0,
                c: 0.0,
            },
        ),
        ("tanh", Activation::Tanh),
    ];
    let radii = logspace(1.0, 1000.0, 13);
    let mut series: Vec<Series> = Vec::new();
    let mut rows: Vec<Vec<f64>> = radii.iter().map(|&r| vec![r]).collect();
    println!(
        "Largest |eigenvalue| of J∞ at the training points (n0 = {N0}, n = {N}, {}, mean of {SEEDS} data sets)",
        init.describe()
    );
    print!("{:>8}", "r");
    for (name, _) in &acts {
        print!(" {:>12}", name.split(' ').next().unwrap_or(name));
    }
    println!();
    let nets: Vec<Network> = acts
        .iter()
        .map(|(_, a)| {
            // 16 nodes for the quadrature duals: within 1e-6 of a 128-node rule here (measured).
            Network::builder()
                .dense(1.0, None)
                .activation(a.clone())
                .dense(1.0, None)
                .quadrature_nodes(16)
                .build()
        })
        .collect::<Result<_, _>>()?;
    for (name, _) in &acts {
        series.push(Series {
            label: name.to_string(),
            points: Vec::new(),
        });
    }
    for (k, &r) in radii.iter().enumerate() {
        print!("{r:>8.1}");
        for (a, net) in nets.iter().enumerate() {
            match largest_eigenvalue(net, N, N0, r, SEEDS, 500, init)? {
                Some(v) => {
                    print!(" {v:>12.4}");
                    rows[k].push(v);
                    series[a].points.push((r, v));
                }
                None => {
                    print!(" {:>12}", "singular");
                    rows[k].push(f64::NAN);
                }
            }
        }
        println!();
    }
    let name = format!("paper_fig5{}", init.suffix());
    let title = format!(
        "Largest |eigenvalue| of J∞, sigmoidal activations (n0 = 32, n = 20, {})",
        init.describe()
    );
    save(
        &Figure {
            name: &name,
            title: &title,
            axes: ("input radius r", "largest |eigenvalue|"),
            log_x: true,
            hlines: &[1.0, 0.5],
        },
        "r,sigmoid,sigmoid_erf,sigmoid_like,erf,tanh",
        &rows,
        &series,
        start,
    )?;
    Ok(())
}
