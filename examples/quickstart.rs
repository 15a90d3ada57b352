//! Quickstart: the NNGP and NTK of a few networks on built-in data.
//!
//! `cargo run --release --example quickstart`

use nalgebra::DMatrix;
use ntk::activation::DualActivation;
use ntk::{Activation, Kernel, Network};
use std::time::Instant;

/// n points on a circle of radius √d in ℝᵈ (d = 2), so every input has x·x/d = 1.
fn circle(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, 2, |i, j| {
        let t = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
        2f64.sqrt() * if j == 0 { t.cos() } else { t.sin() }
    })
}

/// Deterministic pseudo-random inputs in [−1, 1).
fn cloud(n: usize, d: usize) -> DMatrix<f64> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    DMatrix::from_fn(n, d, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        2.0 * ((s >> 11) as f64 / (1u64 << 53) as f64) - 1.0
    })
}

fn print_row(name: &str, m: &DMatrix<f64>) {
    let row: Vec<String> = m.row(0).iter().map(|v| format!("{v:8.4}")).collect();
    println!("  {name:5} row 0: {}", row.join(" "));
}

fn main() -> Result<(), ntk::Error> {
    // 1. A network from its JSON spec (the format the `ntk` command-line tool reads).
    let spec = r#"{"parameterization": "ntk",
      "layers": [{"dense": {"w_std": 1.5, "b_std": 0.1, "width": 512}},
                 {"relu": {}},
                 {"dense": {"w_std": 1.5, "b_std": 0.1}},
                 {"erf": {"a": 1.0, "b": 1.0, "c": 0.0}},
                 {"dense": {"w_std": 1.5}}]}"#;
    let net = Network::from_json(spec)?;
    let x = circle(6);
    let k = net.gram(&x)?;
    println!("Dense-ReLU-Dense-Erf-Dense on 6 points of a circle:");
    print_row("NNGP", &k.nngp);
    print_row("NTK", &k.ntk);

    // 2. Dual activations on the unit sphere: κ(ρ) = E[φ(u)φ(v)] for unit variances, correlation ρ.
    println!("\nDual activations κ(ρ) (unit variances):");
    println!(
        "  {:<20} {:>9} {:>9} {:>9} {:>9}",
        "activation", "ρ=-0.5", "ρ=0", "ρ=0.5", "ρ=1"
    );
    for act in [
        Activation::Relu,
        Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        Activation::SigmoidErf,
        Activation::Gelu,
        Activation::Sin {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        Activation::Tanh,
    ] {
        let d = act.dual()?;
        let vals: Vec<String> = [-0.5, 0.0, 0.5, 1.0]
            .iter()
            .map(|&r| format!("{:9.5}", d.sphere(r).0))
            .collect();
        println!("  {:<20} {}", act.name(), vals.join(" "));
    }

    // 3. Depth: the ReLU NTK per layer tends to 1/4 of its diagonal value off the diagonal.
    println!("\nReLU (σ_w = √2, no bias), two orthogonal points, NTK/(2(L+1)):");
    let pair = DMatrix::from_row_slice(2, 2, &[2f64.sqrt(), 0.0, 0.0, 2f64.sqrt()]);
    for depth in [1, 10, 100, 1000] {
        let net = Network::mlp(depth, Activation::Relu)
            .w_std(2f64.sqrt())
            .build()?;
        let k = net.gram(&pair)?;
        let l1 = 2.0 * (depth as f64 + 1.0);
        println!(
            "  depth {depth:5}: off-diagonal {:.6}, diagonal {:.6}",
            k.ntk[(0, 1)] / l1,
            k.ntk[(0, 0)] / l1
        );
    }

    // 4. A full 2000 × 2000 NNGP + NTK of a depth-3 ReLU network on 100-dimensional inputs.
    let x = cloud(2000, 100);
    let net = Network::mlp(3, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()?;
    let t = Instant::now();
    let k = net.gram(&x)?;
    println!(
        "\n2000×2000 NNGP+NTK, depth-3 ReLU, d = 100: {:.3} s (trace NTK = {:.3})",
        t.elapsed().as_secs_f64(),
        k.ntk.trace()
    );
    Ok(())
}
