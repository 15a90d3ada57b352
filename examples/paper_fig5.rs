//! Jiang & Pehlevan (2020), Fig. 5 in the infinite-width limit: the same transition for other
//! sigmoidal activations. Largest |eigenvalue| of J∞ at the training points against the input radius,
//! n0 = 32, n = 20, one hidden layer (σ_w = 1, no bias), f₀ = J₀ = 0, mean of 2 data sets.
//!
//! tanh and erf have slope 1 at 0 (the logistic sigmoid ¼), so in the linear region their J∞ keeps
//! eigenvalues near 1 up to larger radii — the paper's remark that they are outside Lemma 3's
//! conditions — yet every curve ends at ½.
//!
//! Writes `paper_fig5.csv` and `paper_fig5.svg`.
//!
//! Run: `cargo run --release --example paper_fig5`

mod common;

use common::{Figure, Series, largest_eigenvalue, logspace, save};
use ntk::{Activation, Network};

const N0: usize = 32;
const N: usize = 20;
const SEEDS: u64 = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
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
            match largest_eigenvalue(net, N, N0, r, SEEDS, 500)? {
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
    save(
        &Figure {
            name: "paper_fig5",
            title: "Largest |eigenvalue| of J∞, sigmoidal activations (n0 = 32, n = 20)",
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
