//! Infinitely deep NTK classifiers (Radhakrishnan 2023, Ch. 4 and App. C.I–J).
//!
//! `cargo run --release --example infinite_depth`
//!
//! (a) Fig. 4-1c-like: twelve labelled points on the quarter circle S¹₊, classified by the kernel
//! machine sign(y K⁻¹ k(x)) of the NTK without bias as the depth grows, for one activation of each
//! class of the taxonomy: ReLU (majority vote), h₂ = (x² − 1)/√2 (1-nearest neighbour) and Cor. 1's
//! (h₇ + x)/√2 (singular kernel of order ½, consistent on the circle). The agreement of each
//! classifier with the majority vote, with 1-NN and with the Hilbert-estimate smoother
//! sign(Σᵢ yᵢ/(1 − xᵀxᵢ)^β) is printed per depth. The predicted classes at each depth are drawn in
//! `target/figures/infinite_depth_{ReLU,h2,h7}.svg` (one stripe per depth), and the normalized
//! predictions y K⁻¹ k(x)/max|·| at the deepest depths in `infinite_depth_circle.{csv,svg}`.
//!
//! (b) App. J's protocol at small scale on three UCI sets (iris, wine, breast cancer; `data/`):
//! features min-max scaled to [0, 1] and projected onto the unit sphere, a fixed 50/25/25
//! train/validation/test split, one-hot kernel regression (ridge 1e-10·trace/n, pseudo-inverse
//! fallback for duplicate points). Finite-depth NTKs (depth 1–5) with the derived activations
//! (Cor. 1 Hermite for d = 1, 2, 4; Cor. 2 sine for d = 2, 4) against the ReLU NTK of depth 1–5,
//! each family's depth and activation chosen by validation accuracy, and the final choice between
//! the two families by validation accuracy, as in App. J. Test accuracies are printed as a table.

use nalgebra::DMatrix;
use ntk::infinite_depth::{SphereDual, hermite_consistent, sine_a2, sine_normalized};
use ntk::{Activation, Fallback, KernelSolver, Regularization};
use std::error::Error;
use std::path::Path;
use std::time::Instant;

mod common;

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    circle(start)?;
    uci()?;
    println!("\ntotal {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Ridgeless kernel regression on one-hot or ±1 targets: the predictions at the test points, up to
/// one positive factor. Both kernels are divided by their largest entry first: deep kernels span
/// hundreds of decades (K⁽³⁰⁰⁾(1) ≈ 10¹⁸¹ against 10⁻⁹⁰ off the diagonal for Cor. 1, d = 1), and
/// the unscaled product k K⁻¹ y would underflow to 0. Signs and argmaxes do not change.
fn fit_predict(
    k_train: &DMatrix<f64>,
    k_test_train: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> Result<DMatrix<f64>, Box<dyn Error>> {
    let scale = |k: &DMatrix<f64>| k / k.amax();
    let solver = KernelSolver::params()
        .regularization(Regularization::Relative(1e-10))
        .fallback(Fallback::PseudoInverse { rcond: 1e-12 })
        .fit(&scale(k_train))?;
    let f = scale(k_test_train) * solver.solve(y)?;
    if f.iter().any(|v| *v == 0.0 || !v.is_finite()) {
        return Err("a prediction is 0 or not finite: the kernel's range exceeds f64".into());
    }
    Ok(f)
}

/// K⁽ᴸ⁾ of the cosines between the rows of a and b (unit-norm rows), computed as 1 − ‖a − b‖²/2:
/// exactly 1 for identical points, where the dot product can give 1 − 1e-16, which the singular
/// kernels resolve (Cor. 1, d = 1, at depth 300: K(1 − 1e-16) is 10⁻²⁶⁰ of K(1)).
fn ntk(dual: &SphereDual, depth: usize, a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let cos = DMatrix::from_fn(a.nrows(), b.nrows(), |i, j| {
        (1.0 - 0.5 * (a.row(i) - b.row(j)).norm_squared()).clamp(-1.0, 1.0)
    });
    dual.ntk_matrix(depth, &cos)
        .expect("cosines of unit vectors")
}

// ---------------------------------------------------------------------------------------------
// (a) The circle
// ---------------------------------------------------------------------------------------------

fn circle(start: Instant) -> Result<(), Box<dyn Error>> {
    // Angles in [0, π/2] (S¹₊: all cosines ≥ 0) and labels: 7 of +1, 5 of −1, placed so that the
    // majority vote (+1 everywhere), 1-NN and the smoother disagree in places.
    let angles = [
        0.05, 0.16, 0.27, 0.40, 0.52, 0.63, 0.75, 0.86, 1.00, 1.15, 1.30, 1.48,
    ];
    let labels = [
        1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0,
    ];
    let on_circle = |t: &[f64]| {
        DMatrix::from_fn(
            t.len(),
            2,
            |i, j| if j == 0 { t[i].cos() } else { t[i].sin() },
        )
    };
    let x = on_circle(&angles);
    let y = DMatrix::from_column_slice(labels.len(), 1, &labels);
    let grid: Vec<f64> = (0..400)
        .map(|k| std::f64::consts::FRAC_PI_2 * (k as f64 + 0.5) / 400.0)
        .collect();
    let g = on_circle(&grid);
    let majority: f64 = labels.iter().sum::<f64>().signum();
    let nearest: Vec<f64> = grid
        .iter()
        .map(|t| {
            let j = (0..angles.len())
                .min_by(|&a, &b| (angles[a] - t).abs().total_cmp(&(angles[b] - t).abs()))
                .unwrap();
            labels[j]
        })
        .collect();
    let smoother = |beta: f64| -> Vec<f64> {
        grid.iter()
            .map(|t| {
                angles
                    .iter()
                    .zip(&labels)
                    .map(|(a, yi)| yi / (1.0 - (a - t).cos()).powf(beta))
                    .sum::<f64>()
                    .signum()
            })
            .collect()
    };
    let hilbert = smoother(0.5);
    let agree = |p: &[f64], q: &[f64]| {
        100.0 * p.iter().zip(q).filter(|(a, b)| a == b).count() as f64 / p.len() as f64
    };
    let cases: [(&str, Activation, &[usize]); 3] = [
        (
            "ReLU (majority vote)",
            Activation::Relu,
            &[1, 10, 100, 1000, 10_000],
        ),
        (
            "h2 (1-NN)",
            Activation::Hermite { degree: 2 },
            &[1, 2, 4, 8],
        ),
        (
            "(h7 + x)/sqrt2 (singular, order 1/2)",
            hermite_consistent(1)?,
            &[1, 10, 100, 300],
        ),
    ];
    println!("(a) twelve points on the quarter circle: % of 400 test angles on which the kernel");
    println!("    machine agrees with the majority vote / 1-NN / Hilbert smoother (β = 1/2)\n");
    println!(
        "{:<38} {:>6} {:>9} {:>7} {:>9}",
        "activation", "depth", "majority", "1-NN", "smoother"
    );
    let mut series = Vec::new();
    let mut rows: Vec<Vec<f64>> = grid.iter().map(|&t| vec![t]).collect();
    for (name, act, depths) in &cases {
        let dual = SphereDual::new(act)?;
        let mut last = Vec::new();
        // One stripe per depth: the predicted class sign(f) drawn at height k ± 0.35.
        let mut stripes = vec![common::Series {
            label: "training labels (at −1 ± 0.35)".to_string(),
            points: angles
                .iter()
                .zip(&labels)
                .map(|(&a, &l)| (a, -1.0 + 0.35 * l))
                .collect(),
        }];
        for (k, &depth) in depths.iter().enumerate() {
            let f = fit_predict(&ntk(&dual, depth, &x, &x), &ntk(&dual, depth, &g, &x), &y)?;
            let signs: Vec<f64> = f.iter().map(|v| v.signum()).collect();
            let maj = vec![majority; grid.len()];
            println!(
                "{name:<38} {depth:>6} {:>8.1}% {:>6.1}% {:>8.1}%",
                agree(&signs, &maj),
                agree(&signs, &nearest),
                agree(&signs, &hilbert)
            );
            stripes.push(common::Series {
                label: format!("L = {depth} (at {k} ± 0.35)"),
                points: grid
                    .iter()
                    .zip(&signs)
                    .map(|(&t, s)| (t, k as f64 + 0.35 * s))
                    .collect(),
            });
            last = f.iter().copied().collect();
        }
        let slug: String = name
            .split(' ')
            .next()
            .unwrap_or("activation")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let hlines: Vec<f64> = (-1..depths.len() as i32).map(f64::from).collect();
        common::line_plot(
            &common::out_dir()?.join(format!("infinite_depth_{slug}.svg")),
            &format!("{name}: predicted class on the quarter circle as the depth grows"),
            ("angle θ of x = (cos θ, sin θ)", "depth index ± 0.35·class"),
            &stripes,
            false,
            &hlines,
        )?;
        let scale = last.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let depth = depths[depths.len() - 1];
        series.push(common::Series {
            label: format!("{name}, L = {depth}"),
            points: grid
                .iter()
                .zip(&last)
                .map(|(&t, v)| (t, v / scale))
                .collect(),
        });
        for (row, v) in rows.iter_mut().zip(&last) {
            row.push(v / scale);
        }
    }
    series.push(common::Series {
        label: "training labels".to_string(),
        points: angles.iter().zip(&labels).map(|(&a, &l)| (a, l)).collect(),
    });
    let fig = common::Figure {
        name: "infinite_depth_circle",
        title: "Deep NTK classifiers on the quarter circle (normalized y K^-1 k(x))",
        axes: (
            "angle θ of x = (cos θ, sin θ)",
            "prediction / max |prediction|",
        ),
        log_x: false,
        hlines: &[0.0],
    };
    common::save(&fig, "theta,relu,h2,hermite_d1", &rows, &series, start)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// (b) App. J at small scale
// ---------------------------------------------------------------------------------------------

/// A data set in the format of `data/`: a header `n,d,class names…`, then d features and the label.
fn load(path: &Path) -> Result<(DMatrix<f64>, Vec<usize>), Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let (n, d): (usize, usize) = (header[0].parse()?, header[1].parse()?);
    let mut x = DMatrix::zeros(n, d);
    let mut y = Vec::with_capacity(n);
    for (i, line) in lines.filter(|l| !l.trim().is_empty()).enumerate() {
        let v: Vec<f64> = line
            .split(',')
            .map(|f| f.trim().parse())
            .collect::<Result<_, _>>()?;
        for j in 0..d {
            x[(i, j)] = v[j];
        }
        y.push(v[d] as usize);
    }
    Ok((x, y))
}

/// Min-max scaling of each feature to [0, 1], then each row divided by its norm (App. C, L958).
fn to_sphere(x: &DMatrix<f64>) -> DMatrix<f64> {
    let mut z = x.clone();
    for mut col in z.column_iter_mut() {
        let (lo, hi) = (col.min(), col.max());
        let span = if hi > lo { hi - lo } else { 1.0 };
        col.apply(|v| *v = (*v - lo) / span);
    }
    for mut row in z.row_iter_mut() {
        let norm = row.norm();
        if norm > 0.0 {
            row /= norm;
        } else {
            // A point at the minimum of every feature: give it a direction of its own.
            row.fill(1.0 / (row.len() as f64).sqrt());
        }
    }
    z
}

/// A fixed pseudo-random permutation (xorshift64 with a fixed seed: deterministic splits).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        p.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    p
}

fn rows(x: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i], j)])
}

fn accuracy(pred: &DMatrix<f64>, labels: &[usize]) -> f64 {
    let hits = pred
        .row_iter()
        .zip(labels)
        .filter(|(r, l)| r.transpose().argmax().0 == **l)
        .count();
    hits as f64 / labels.len() as f64
}

/// (validation accuracy, test accuracy, description) of the best model of a family.
type Choice = (f64, f64, String);

fn uci() -> Result<(), Box<dyn Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let derived: Vec<(String, Activation)> = vec![
        ("Hermite d=1".to_string(), hermite_consistent(1)?),
        ("Hermite d=2".to_string(), hermite_consistent(2)?),
        ("Hermite d=4".to_string(), hermite_consistent(4)?),
        ("sine d=2".to_string(), sine_normalized(sine_a2(1.0)?)?),
        ("sine d=4".to_string(), sine_normalized(sine_a2(2.0)?)?),
    ];
    println!(
        "\n(b) App. J protocol, small scale: test accuracy (validation accuracy) of the model"
    );
    println!(
        "    chosen by validation accuracy; 50/25/25 split, data min-max scaled onto the sphere\n"
    );
    println!(
        "{:<14} {:>5} {:>26} {:>34} {:>12}",
        "data set", "n", "ReLU NTK (depth 1–5)", "derived activations (depth 1–5)", "selected"
    );
    for (name, file) in [
        ("iris", "iris.csv"),
        ("wine", "wine_data.csv"),
        ("breast cancer", "breast_cancer.csv"),
    ] {
        let t0 = Instant::now();
        let (raw, labels) = load(&data.join(file))?;
        let x = to_sphere(&raw);
        let n = x.nrows();
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        let p = permutation(n, 0x5eed_0000 + n as u64);
        let (tr, rest) = p.split_at(n / 2);
        let (va, te) = rest.split_at(rest.len() / 2);
        let (xtr, xva, xte) = (rows(&x, tr), rows(&x, va), rows(&x, te));
        let ytr = DMatrix::from_fn(tr.len(), classes, |i, c| {
            f64::from(u8::from(labels[tr[i]] == c))
        });
        let lva: Vec<usize> = va.iter().map(|&i| labels[i]).collect();
        let lte: Vec<usize> = te.iter().map(|&i| labels[i]).collect();
        let best = |acts: &[(String, Activation)]| -> Result<Choice, Box<dyn Error>> {
            let mut best: Choice = (-1.0, 0.0, String::new());
            for (label, act) in acts {
                let dual = SphereDual::new(act)?;
                for depth in 1..=5 {
                    let ktr = ntk(&dual, depth, &xtr, &xtr);
                    let a_va = accuracy(
                        &fit_predict(&ktr, &ntk(&dual, depth, &xva, &xtr), &ytr)?,
                        &lva,
                    );
                    // Ties keep the earlier (simpler) model.
                    if a_va > best.0 {
                        let a_te = accuracy(
                            &fit_predict(&ktr, &ntk(&dual, depth, &xte, &xtr), &ytr)?,
                            &lte,
                        );
                        best = (a_va, a_te, format!("{label}, L={depth}"));
                    }
                }
            }
            Ok(best)
        };
        let relu = best(&[("ReLU".to_string(), Activation::Relu)])?;
        let ours = best(&derived)?;
        // App. J: the derived NTK replaces the ReLU NTK only if it validates strictly better.
        let selected = if ours.0 > relu.0 { &ours } else { &relu };
        let show = |c: &Choice| format!("{:.1}% ({:.1}%) {}", 100.0 * c.1, 100.0 * c.0, c.2);
        println!(
            "{name:<14} {n:>5} {:>26} {:>34} {:>11.1}%   [{:.2} s]",
            show(&relu),
            show(&ours),
            100.0 * selected.1,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
