//! `ntk nqm`: the single-example neural quadratic model's gradient-descent recursion (catapults).

use crate::io::{Output, ToNpy, Values, write_output};
use crate::{Failure, number, synopsis};
use ntk::quadratic::ScalarNqm;
use serde::Serialize;
use std::path::PathBuf;

/// Gradient descent on the neural quadratic model of a wide two-layer network, one example
/// (Zhu 2024, eqs. 3.11–3.12): e′ = (1 − ηλ + cη²eg)e, λ′ = λ − ηc(4ge − ηλe²), with e = g − y
///
/// Output: {"loss": [½e² at steps 0..N], "lambda": [λ at the same steps], "diverged_at": null or
/// the first step whose loss exceeds --divergence-loss (the lists then end there)}. Regimes:
/// η < 2/λ₀ monotone, 2/λ₀ < η < 4/λ₀ a catapult (the loss spikes, λ falls below 2/η, then the loss
/// converges), η > 4/λ₀ divergence.
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Initial tangent kernel λ₀ = ‖∇f‖² ≥ 0
    #[arg(long = "lambda0", value_name = "λ", value_parser = number, allow_negative_numbers = true)]
    lambda0: f64,
    /// Initial output g₀ = f(w₀; x)
    #[arg(long = "g0", value_name = "g", value_parser = number, allow_negative_numbers = true)]
    g0: f64,
    /// Target y
    #[arg(long, value_name = "y", value_parser = number, allow_negative_numbers = true)]
    target: f64,
    /// Curvature c = ‖x‖²/(md) > 0 (m hidden units, input dimension d)
    #[arg(long, value_name = "c", value_parser = number, allow_negative_numbers = true)]
    c: f64,
    /// Learning rate η > 0
    #[arg(long, value_name = "η", value_parser = number, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Number of steps N
    #[arg(long, value_name = "N")]
    steps: usize,
    /// The loss above which the run counts as diverged
    #[arg(long, value_name = "L", default_value_t = ntk::quadratic::DEFAULT_DIVERGENCE_LOSS, value_parser = number, allow_negative_numbers = true)]
    divergence_loss: f64,
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (arrays loss, lambda; diverged_at as a 1-element array, −1 for none)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct NqmOutput {
    loss: Values,
    lambda: Values,
    diverged_at: Option<usize>,
    /// `diverged_at` for `.npz`, which has no null: [step], or [−1].
    #[serde(skip)]
    diverged_npz: Values,
}

impl Output for NqmOutput {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        vec![
            ("loss", &self.loss),
            ("lambda", &self.lambda),
            ("diverged_at", &self.diverged_npz),
        ]
    }
}

/// Runs `ntk nqm`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let nqm = ScalarNqm::new(args.lambda0, args.g0, args.target, args.c)?
        .divergence_loss(args.divergence_loss)?;
    let run = nqm.run(args.learning_rate, args.steps)?;
    let output = NqmOutput {
        loss: Values(run.loss),
        lambda: Values(run.lambda),
        diverged_at: run.diverged_at,
        diverged_npz: Values(vec![run.diverged_at.map_or(-1.0, |s| s as f64)]),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}
