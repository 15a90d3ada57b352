//! The single-example NQM as a closed two-variable recursion (Zhu 2024, eqs. 3.11–3.12): the loss
//! ½e² and the tangent kernel λ of the quadratic model of a wide two-layer network, trained by
//! gradient descent on one example.

use crate::Result;
use crate::error::invalid;
use crate::linalg::check_finite_param;

/// The loss above which a run counts as diverged, by default: the recursion squares the loss at
/// every step once ηλ > 4, so from 1e15 it overflows f64 within a few steps, while the catapult
/// peak of a model with c = ‖x‖²/(md) stays of order 1/c (Thm 3.3.1: Ω(m(ηλ₀ − 2)²/log m)).
pub const DEFAULT_DIVERGENCE_LOSS: f64 = 1e15;

/// Which of the three regimes of Zhu (2024, §3.3.1) a learning rate falls in, or a run showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regime {
    /// η < 2/λ₀: the loss decreases at every step and λ barely moves (Thm B.3.1).
    Monotone,
    /// 2/λ₀ < η < 4/λ₀: the loss rises, λ falls below 2/η, then the loss converges (Thm 3.3.1).
    Catapult,
    /// η > 4/λ₀: the kernel grows and the loss diverges (Thm B.7.1).
    Divergent,
}

impl Regime {
    /// The regime the theory predicts for learning rate η and initial kernel λ₀ > 0: monotone below
    /// 2/λ₀, catapult up to 4/λ₀, divergent above (the boundaries themselves go to the upper regime).
    pub fn predicted(learning_rate: f64, lambda0: f64) -> Regime {
        let x = learning_rate * lambda0;
        if x < 2.0 {
            Regime::Monotone
        } else if x < 4.0 {
            Regime::Catapult
        } else {
            Regime::Divergent
        }
    }
}

/// The single-example quadratic model: the output g₀ and tangent kernel λ₀ at initialization, the
/// target y and the curvature constant c = ‖x‖²/(md) of the two-layer network of eq. 3.9 (m hidden
/// units, input dimension d).
///
/// Gradient descent on ½(g − y)² with learning rate η moves e = g − y and λ by (eqs. 3.11–3.12)
///
/// e′ = (1 − ηλ + cη²eg)·e,  λ′ = λ − ηc(4ge − ηλe²),
///
/// exactly for the NQM of eq. 3.10 (see [`QuadraticModel::two_layer`](super::QuadraticModel::two_layer),
/// which reproduces it to rounding).
///
/// ```
/// use ntk::quadratic::{Regime, ScalarNqm};
///
/// let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3)?;   // λ₀, g₀, y, c
/// let run = nqm.run(2.5, 400)?;                      // η = 2.5 ∈ (2/λ₀, 4/λ₀)
/// assert_eq!(run.regime(), Regime::Catapult);
/// let (step, peak) = run.peak();
/// assert_eq!(step, 7);
/// assert!((peak - 13.7358).abs() < 1e-4);
/// assert!(2.5 * run.lambda.last().unwrap() < 2.0);  // the kernel ends below 2/η
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarNqm {
    lambda0: f64,
    g0: f64,
    target: f64,
    c: f64,
    divergence_loss: f64,
}

/// A gradient-descent run of [`ScalarNqm`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarRun {
    /// ½e² at steps 0, 1, …: `steps + 1` values, or fewer if the run diverged (then the last one is
    /// the loss at step `diverged_at`, when it is finite).
    pub loss: Vec<f64>,
    /// λ at the same steps.
    pub lambda: Vec<f64>,
    /// The output g at the same steps.
    pub output: Vec<f64>,
    /// The first step whose loss exceeds the divergence threshold or is not finite.
    pub diverged_at: Option<usize>,
}

impl ScalarRun {
    /// The largest loss and its step (the first one on ties).
    pub fn peak(&self) -> (usize, f64) {
        self.loss
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (i, l)| {
                if l > best.1 { (i, l) } else { best }
            })
    }

    /// The regime the run showed: [`Regime::Divergent`] if it diverged, [`Regime::Catapult`] if the
    /// loss ever rose from one step to the next, [`Regime::Monotone`] otherwise.
    pub fn regime(&self) -> Regime {
        if self.diverged_at.is_some() {
            Regime::Divergent
        } else if self.loss.windows(2).any(|w| w[1] > w[0]) {
            Regime::Catapult
        } else {
            Regime::Monotone
        }
    }
}

impl ScalarNqm {
    /// The model with kernel λ₀ ≥ 0, output g₀, target y and curvature c = ‖x‖²/(md) > 0, all
    /// finite; the divergence threshold is [`DEFAULT_DIVERGENCE_LOSS`].
    pub fn new(lambda0: f64, g0: f64, target: f64, c: f64) -> Result<ScalarNqm> {
        for (name, v) in [
            ("lambda0", lambda0),
            ("g0", g0),
            ("target", target),
            ("c", c),
        ] {
            check_finite_param(name, v)?;
        }
        if lambda0 < 0.0 {
            return Err(invalid("lambda0", lambda0, "a tangent kernel ‖∇f‖² is ≥ 0"));
        }
        if c <= 0.0 {
            return Err(invalid(
                "c",
                c,
                "the curvature ‖x‖²/(md) must be > 0 (a network with m hidden units on input x ≠ 0)",
            ));
        }
        Ok(ScalarNqm {
            lambda0,
            g0,
            target,
            c,
            divergence_loss: DEFAULT_DIVERGENCE_LOSS,
        })
    }

    /// The loss above which a run stops as diverged (finite, > 0; default
    /// [`DEFAULT_DIVERGENCE_LOSS`]).
    pub fn divergence_loss(mut self, threshold: f64) -> Result<ScalarNqm> {
        check_finite_param("divergence_loss", threshold)?;
        if threshold <= 0.0 {
            return Err(invalid("divergence_loss", threshold, "must be > 0"));
        }
        self.divergence_loss = threshold;
        Ok(self)
    }

    /// λ₀.
    pub fn lambda0(&self) -> f64 {
        self.lambda0
    }

    /// `steps` steps of gradient descent with learning rate η > 0 (finite). The run stops at the
    /// first step whose loss exceeds the divergence threshold or is not finite.
    pub fn run(&self, learning_rate: f64, steps: usize) -> Result<ScalarRun> {
        check_finite_param("learning_rate", learning_rate)?;
        if learning_rate <= 0.0 {
            return Err(invalid("learning_rate", learning_rate, "must be > 0"));
        }
        let eta = learning_rate;
        let (y, c) = (self.target, self.c);
        let (mut e, mut lambda) = (self.g0 - y, self.lambda0);
        let mut run = ScalarRun {
            loss: vec![0.5 * e * e],
            lambda: vec![lambda],
            output: vec![self.g0],
            diverged_at: None,
        };
        for step in 1..=steps {
            let g = e + y;
            let e_next = (1.0 - eta * lambda + c * eta * eta * e * g) * e;
            lambda -= eta * c * (4.0 * g * e - eta * lambda * e * e);
            e = e_next;
            let loss = 0.5 * e * e;
            if loss.is_nan() || loss > self.divergence_loss {
                if loss.is_finite() && lambda.is_finite() {
                    run.loss.push(loss);
                    run.lambda.push(lambda);
                    run.output.push(e + y);
                }
                run.diverged_at = Some(step);
                break;
            }
            run.loss.push(loss);
            run.lambda.push(lambda);
            run.output.push(e + y);
        }
        Ok(run)
    }
}
