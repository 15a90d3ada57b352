//! Catapults (Zhu 2024, Ch. 3–4): the neural quadratic model's recursion for the issue's table,
//! gradient descent on a finite two-layer ReLU network just above its critical learning rate
//! n/λ_max(NTK) (loss spike, λ_max falling below n/η, convergence; the loss split onto the NTK's
//! top eigenvector), and SGD at η = ½η_crit for several batch sizes on y = x₁x₂: the number of
//! catapults, the AGOP alignment with the EGOP diag(1, 1, 0, …) and the test loss (Table 4.1's
//! trend). Writes `target/figures/catapult_{loss,lambda,nqm}.{csv,svg}`; a few seconds in release.
//!
//! ```sh
//! cargo run --release --example catapult
//! ```

mod common;

use common::{Figure, Series, save};
use nalgebra::{DMatrix, DVector};
use ntk::finite::{FiniteNetwork, HiddenWidths};
use ntk::quadratic::{
    ScalarNqm, agop_alignment, critical_learning_rate, gd_catapult, sgd_catapults,
};
use ntk::{Activation, Network};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::error::Error;
use std::time::Instant;

/// n points x ~ N(0, I_d) with y = x₁x₂ (the rank-2 task of Zhu 2024, §4.4).
fn rank2(n: usize, d: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = DMatrix::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng));
    let y = DMatrix::from_fn(n, 1, |i, _| x[(i, 0)] * x[(i, 1)]);
    (x, y)
}

fn two_layer(d: usize, width: usize, seed: u64) -> Result<FiniteNetwork, ntk::Error> {
    // f = m^{-1/2} Σ vₖ ReLU(uₖᵀx/√d), weights N(0, 1): eq. 3.9 in the NTK parameterization.
    let spec = Network::builder()
        .dense(1.0, None)
        .activation(Activation::Relu)
        .dense(1.0, None)
        .build()?;
    FiniteNetwork::builder(&spec, d)
        .hidden(HiddenWidths::Uniform(width))
        .seed(seed)
        .build()
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();

    // 1. The single-example NQM (λ₀ = 1, g₀ = 0.5, y = 1, c = 1e-3).
    println!("NQM recursion, λ₀ = 1, g₀ = 0.5, y = 1, c = 1e-3, 400 steps:");
    let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3)?;
    let mut nqm_series = Vec::new();
    let mut nqm_rows: Vec<Vec<f64>> = (0..=30).map(|s| vec![s as f64]).collect();
    for eta in [1.9, 2.5, 3.0, 3.5, 4.2] {
        let run = nqm.run(eta, 400)?;
        let (step, peak) = run.peak();
        match run.diverged_at {
            Some(s) => println!("  η = {eta}: {:?}, diverged at step {s}", run.regime()),
            None => println!(
                "  η = {eta}: {:?}, peak ½e² = {peak:.6} at step {step}, final λ = {:.6}",
                run.regime(),
                run.lambda.last().unwrap()
            ),
        }
        let pts: Vec<(f64, f64)> = run
            .loss
            .iter()
            .take(31)
            .enumerate()
            .map(|(s, l)| (s as f64, l.log10()))
            .collect();
        for (row, &(_, l)) in nqm_rows.iter_mut().zip(&pts) {
            row.push(l);
        }
        nqm_series.push(Series {
            label: format!("η = {eta}"),
            points: pts,
        });
    }
    nqm_rows.retain(|r| r.len() == 6);
    save(
        &Figure {
            name: "catapult_nqm",
            title: "NQM: log₁₀ ½e² against the step (λ₀ = 1; catapult for 2 < η < 4)",
            axes: ("step", "log10 loss"),
            log_x: false,
            hlines: &[],
        },
        "step,eta1.9,eta2.5,eta3.0,eta3.5,eta4.2",
        &nqm_rows,
        &nqm_series,
        start,
    )?;

    // 2. GD on a finite two-layer ReLU network just above η_crit = n/λ_max(K₀).
    let (n, d, width) = (64, 10, 4096);
    let (x, y) = rank2(n, d, 1);
    let mut net = two_layer(d, width, 2)?;
    let eta_crit = critical_learning_rate(&net, &x)?;
    let eta = 1.5 * eta_crit;
    let run = gd_catapult(&mut net, &x, &y, eta, 100, 1)?;
    let (peak_step, peak) = run.peak();
    let lam_end = *run.lambda_max.last().unwrap();
    println!(
        "\nGD, two-layer ReLU of width {width}, n = {n}, d = {d}: η_crit = n/λ_max = {eta_crit:.4}, \
         η = 1.5·η_crit = {eta:.4}\n  loss {:.4} → peak {peak:.4} at step {peak_step} → {:.2e}; \
         λ_max {:.3} → {lam_end:.3} (n/η = {:.3})",
        run.loss[0],
        run.loss.last().unwrap(),
        run.lambda_max[0],
        n as f64 / eta
    );
    let rows: Vec<Vec<f64>> = (0..run.loss.len())
        .map(|s| {
            vec![
                s as f64,
                run.loss[s],
                run.loss_top[s],
                run.loss_rest[s],
                run.lambda_max[s],
            ]
        })
        .collect();
    let curve = |v: &[f64], log: bool| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(s, &l)| (s as f64, if log { l.max(1e-300).log10() } else { l }))
            .collect()
    };
    save(
        &Figure {
            name: "catapult_loss",
            title: "GD at 1.5 η_crit: log₁₀ loss, split onto the NTK's top eigenvector (eq. 4.2)",
            axes: ("step", "log10 loss"),
            log_x: false,
            hlines: &[],
        },
        "step,loss,loss_top1,loss_rest,lambda_max",
        &rows,
        &[
            Series {
                label: "L".into(),
                points: curve(&run.loss, true),
            },
            Series {
                label: "L≤1 (top eigenvector)".into(),
                points: curve(&run.loss_top, true),
            },
            Series {
                label: "L>1".into(),
                points: curve(&run.loss_rest, true),
            },
        ],
        start,
    )?;
    save(
        &Figure {
            name: "catapult_lambda",
            title: "GD at 1.5 η_crit: λ_max of the empirical NTK (line: n/η)",
            axes: ("step", "λ_max(K_t)"),
            log_x: false,
            hlines: &[n as f64 / eta],
        },
        "step,loss,loss_top1,loss_rest,lambda_max",
        &rows,
        &[Series {
            label: "λ_max(K_t)".into(),
            points: curve(&run.lambda_max, false),
        }],
        start,
    )?;

    // 3. SGD at η = ½η_crit(full) on y = x₁x₂: smaller batches, more catapults (Table 4.1).
    let (n, d, width, epochs) = (200, 10, 1024, 40);
    let (x, y) = rank2(n, d, 3);
    let (x_test, y_test) = rank2(1000, d, 4);
    let egop = DMatrix::from_diagonal(&DVector::from_fn(d, |i, _| if i < 2 { 1.0 } else { 0.0 }));
    let before: f64 = (0..3)
        .map(|seed| agop_alignment(&two_layer(d, width, 10 + seed)?, &x_test, &egop))
        .sum::<Result<f64, ntk::Error>>()?
        / 3.0;
    println!(
        "\nSGD on y = x₁x₂, n = {n}, d = {d}, width {width}, η = ½η_crit, {epochs} epochs \
         (3 seeds each; AGOP alignment at initialization {before:.3}):\n  \
         batch  catapults  match rate  AGOP alignment  test loss"
    );
    for batch in [5, 10, 50, n] {
        let (mut cats, mut mrate, mut align, mut test) = (0.0, 0.0, 0.0, 0.0);
        let seeds = 3;
        for seed in 0..seeds {
            let mut net = two_layer(d, width, 10 + seed)?;
            let eta = 0.5 * critical_learning_rate(&net, &x)?;
            let iterations = epochs * (n / batch);
            let sgd = sgd_catapults(&mut net, &x, &y, eta, batch, iterations, seed)?;
            cats += sgd.catapults() as f64;
            mrate += sgd.match_rate();
            align += agop_alignment(&net, &x_test, &egop)?;
            test += (net.forward(&x_test)? - &y_test).norm_squared() / x_test.nrows() as f64;
        }
        let s = seeds as f64;
        println!(
            "  {batch:>5}  {:>9.1}  {:>10.3}  {:>14.3}  {:>9.3}",
            cats / s,
            mrate / s,
            align / s,
            test / s
        );
    }
    println!("\n({:.1} s)", start.elapsed().as_secs_f64());
    Ok(())
}
