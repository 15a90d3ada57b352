//! Catapults in real (finite) networks (Zhu 2024, Ch. 4): gradient descent and SGD above the
//! critical learning rate of the empirical NTK, the loss split onto the NTK's top eigenspace, and
//! the AGOP alignment with a target's EGOP.
//!
//! Conventions of Ch. 4 (eq. 4.1): the loss is the mean squared error L = (1/n)Σᵢ(f(xᵢ) − yᵢ)²
//! (no ½) and a step is w ← w − η∇L, so the linearized dynamics are
//! f − y ← (I − 2ηK/n)(f − y) and the critical learning rate is η_crit = n/λ_max(K) (L1023); on a
//! batch of b points, η_crit(X_B) = b/λ_max(K(X_B)) (eq. 4.4, L3222). Under the ½Σ loss of Ch. 3
//! the same threshold reads 2/λ_max.

use super::model::check_learning_rate;
use crate::error::invalid;
use crate::finite::{FiniteNetwork, check_inputs};
use crate::kernel::Kernel;
use crate::linalg::{check_finite_matrix, check_square, sym_eigen};
use crate::{Error, Result};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The threshold ε of a catapult event η − η_crit(X_B) > ε in SGD (Zhu 2024, L1172).
pub const CATAPULT_EPSILON: f64 = 1e-8;

/// A gradient-descent run of a finite network ([`gd_catapult`]), in the conventions of Zhu (2024,
/// Ch. 4): the loss L = (1/n)Σ(f − y)², the step w ← w − η∇L, the critical learning rate
/// η_crit = n/λ_max(K).
#[derive(Debug, Clone, PartialEq)]
pub struct CatapultRun {
    /// The learning rate η.
    pub learning_rate: f64,
    /// η_crit = n/λ_max(K₀) of the empirical NTK at initialization.
    pub critical_learning_rate: f64,
    /// L = (1/n)‖f − y‖² at steps 0, …, `steps`.
    pub loss: Vec<f64>,
    /// λ_max(K_t) of the empirical NTK on the training points at the same steps.
    pub lambda_max: Vec<f64>,
    /// L_{≤s} = (1/n)‖P_{≤s}(f − y)‖², the loss in the span of the top s eigenvectors of K_t
    /// (Zhu 2024, eq. 4.2).
    pub loss_top: Vec<f64>,
    /// L_{>s} = L − L_{≤s}, the loss in the other eigendirections.
    pub loss_rest: Vec<f64>,
}

impl CatapultRun {
    /// The largest loss and its step.
    pub fn peak(&self) -> (usize, f64) {
        self.loss
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, l)| if l > b.1 { (i, l) } else { b },
            )
    }
}

/// n/λ_max(K(X)): the critical learning rate of the MSE loss (1/n)Σ(f − y)² for the empirical NTK
/// of `net` on the n rows of `x` (Zhu 2024, L1023); for a batch it is η_crit(X_B) = b/λ_max(K(X_B)).
pub fn critical_learning_rate(net: &FiniteNetwork, x: &DMatrix<f64>) -> Result<f64> {
    let k = net.gram(x)?.ntk;
    let (vals, _) = sym_eigen(&k, "the empirical NTK")?;
    let max = vals.max();
    if max <= 0.0 {
        return Err(Error::NotPositiveDefinite {
            what: "the empirical NTK".into(),
            min_eigenvalue: vals.min(),
            diag_reg: 0.0,
        });
    }
    Ok(x.nrows() as f64 / max)
}

fn check_data(net: &FiniteNetwork, x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<()> {
    if net.output_dim() != 1 {
        return Err(invalid(
            "output_dim",
            net.output_dim(),
            "the catapult studies are for one output",
        ));
    }
    check_inputs(x, net.input_dim(), "x_train")?;
    check_inputs(y, 1, "y_train")?;
    if y.nrows() != x.nrows() {
        return Err(Error::ShapeMismatch {
            what: "y_train rows (one target per training point)".into(),
            expected: x.nrows().to_string(),
            found: y.nrows().to_string(),
        });
    }
    Ok(())
}

/// Trains `net` in place by full-batch gradient descent w ← w − η∇L on L = (1/n)‖f − y‖² (Zhu 2024,
/// eq. 4.1; linearized, f − y ← (I − 2ηK/n)(f − y), stable for η < n/λ_max(K)) for
/// `steps` steps and records the loss, λ_max of the empirical NTK and the loss split onto its top
/// `top` eigenvectors (eq. 4.2) at every step. Choose η = ratio·η_crit with
/// [`critical_learning_rate`]: a ratio in (1, 2) gives a catapult in a wide network (the loss
/// spikes and λ_max falls below n/η, Zhu 2024, §4.3.1). Errors: bad shapes or non-finite data,
/// η ≤ 0, `top` not in 1..=n, [`Error::Diverged`] if the loss overflows.
pub fn gd_catapult(
    net: &mut FiniteNetwork,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    learning_rate: f64,
    steps: usize,
    top: usize,
) -> Result<CatapultRun> {
    check_data(net, x, y)?;
    check_learning_rate(learning_rate)?;
    let n = x.nrows();
    if top == 0 || top > n {
        return Err(invalid(
            "top",
            top,
            &format!("the top eigenspace has dimension 1..={n} (the number of points)"),
        ));
    }
    let mut run = CatapultRun {
        learning_rate,
        critical_learning_rate: critical_learning_rate(net, x)?,
        loss: Vec::with_capacity(steps + 1),
        lambda_max: Vec::with_capacity(steps + 1),
        loss_top: Vec::with_capacity(steps + 1),
        loss_rest: Vec::with_capacity(steps + 1),
    };
    for step in 0..=steps {
        let r = net.forward(x)? - y;
        let k = net.gram(x)?.ntk;
        let (vals, vecs) = sym_eigen(&k, "the empirical NTK")?;
        // Ascending eigenvalues: the top s eigenvectors are the last s columns.
        let proj = vecs.columns(n - top, top).tr_mul(&r);
        let loss = r.norm_squared() / n as f64;
        let loss_top = proj.norm_squared() / n as f64;
        if !loss.is_finite() {
            return Err(Error::Diverged { step, loss });
        }
        run.loss.push(loss);
        run.lambda_max.push(vals.max());
        run.loss_top.push(loss_top);
        run.loss_rest.push((loss - loss_top).max(0.0));
        if step < steps {
            // The crate's step is θ − (lr/N)Jᵀr on 1/(2N)‖r‖²; η∇L = (2η/n)Jᵀr.
            net.gd_step(x, y, 2.0 * learning_rate, n as f64, step)?;
        }
    }
    Ok(run)
}

/// A mini-batch SGD run ([`sgd_catapults`]), in the conventions of Zhu (2024, Ch. 4): the step
/// w ← w − (η/b)∇Σ_B(f − y)² and the batch's critical learning rate η_crit(X_B) = b/λ_max(K(X_B)).
#[derive(Debug, Clone, PartialEq)]
pub struct SgdRun {
    /// The learning rate η.
    pub learning_rate: f64,
    /// The batch size b.
    pub batch_size: usize,
    /// The training loss (1/n)‖f − y‖² on all n points before every iteration and after the last.
    pub loss: Vec<f64>,
    /// η_crit(X_B) = b/λ_max(K(X_B)) of each iteration's batch, before its step.
    pub batch_critical: Vec<f64>,
    /// Whether each iteration's step raised the loss on its own batch (ΔL_B > 0).
    pub batch_loss_rose: Vec<bool>,
}

impl SgdRun {
    /// The number of catapult events, iterations with η − η_crit(X_B) > [`CATAPULT_EPSILON`]
    /// (Zhu 2024, L1172).
    pub fn catapults(&self) -> usize {
        self.batch_critical
            .iter()
            .filter(|&&c| self.learning_rate - c > CATAPULT_EPSILON)
            .count()
    }

    /// The fraction of iterations where "the batch loss rose" and "η > η_crit(X_B)" agree (Zhu
    /// 2024, Table 4.2 reports 94.7–97.3 %).
    pub fn match_rate(&self) -> f64 {
        let agree = self
            .batch_critical
            .iter()
            .zip(&self.batch_loss_rose)
            .filter(|&(&c, &rose)| (self.learning_rate - c > CATAPULT_EPSILON) == rose)
            .count();
        agree as f64 / self.batch_critical.len().max(1) as f64
    }
}

/// Trains `net` in place by mini-batch SGD, w ← w − (η/b)∇Σ_{i∈B}(f(xᵢ) − yᵢ)² (Zhu 2024, L995),
/// for `iterations` iterations over batches of `batch_size` points drawn without replacement
/// (reshuffled every epoch, ChaCha8 seeded by `seed`; the last incomplete batch of an epoch is
/// dropped), recording the full training loss, each batch's η_crit(X_B) = b/λ_max(K(X_B)) and
/// whether the step raised the batch loss. Errors: as [`gd_catapult`], and a batch size outside
/// 1..=n.
pub fn sgd_catapults(
    net: &mut FiniteNetwork,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    learning_rate: f64,
    batch_size: usize,
    iterations: usize,
    seed: u64,
) -> Result<SgdRun> {
    check_data(net, x, y)?;
    check_learning_rate(learning_rate)?;
    let n = x.nrows();
    if batch_size == 0 || batch_size > n {
        return Err(invalid(
            "batch_size",
            batch_size,
            &format!("must be in 1..={n} (the number of points)"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut at = n; // forces a shuffle on the first iteration
    let mut run = SgdRun {
        learning_rate,
        batch_size,
        loss: Vec::with_capacity(iterations + 1),
        batch_critical: Vec::with_capacity(iterations),
        batch_loss_rose: Vec::with_capacity(iterations),
    };
    let b = batch_size as f64;
    for it in 0..iterations {
        run.loss
            .push((net.forward(x)? - y).norm_squared() / n as f64);
        if at + batch_size > n {
            order.shuffle(&mut rng);
            at = 0;
        }
        let idx = &order[at..at + batch_size];
        at += batch_size;
        let xb = x.select_rows(idx);
        let yb = y.select_rows(idx);
        run.batch_critical.push(critical_learning_rate(net, &xb)?);
        // (η/b)∇Σ_B r² = (2η/b)J_Bᵀr_B: the crate's step with lr 2η and N = b.
        let before = 2.0 * net.gd_step(&xb, &yb, 2.0 * learning_rate, b, it)?;
        let after = (net.forward(&xb)? - &yb).norm_squared() / b;
        run.batch_loss_rose.push(after > before);
    }
    run.loss
        .push((net.forward(x)? - y).norm_squared() / n as f64);
    Ok(run)
}

/// The AGOP alignment cos(G, G*) = Tr(GᵀG*)/(‖G‖_F‖G*‖_F) (Zhu 2024, eq. 4.6) of the AGOP G of
/// `net` (one output) on the points `x` with a target's EGOP `egop` (d × d, e.g. diag(1, 1, 0, …)
/// for y = x₁x₂ with x ~ N(0, I)). 1 means the network's input gradients span exactly the
/// target's relevant directions, with the right weights.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::finite::{FiniteNetwork, HiddenWidths};
/// use ntk::quadratic::agop_alignment;
/// use ntk::{Activation, Network};
///
/// let spec = Network::mlp(1, Activation::Relu).build()?;
/// let net = FiniteNetwork::builder(&spec, 4).hidden(HiddenWidths::Uniform(64)).build()?;
/// let x = DMatrix::from_fn(20, 4, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
/// let egop = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![1.0, 1.0, 0.0, 0.0]));
/// let cos = agop_alignment(&net, &x, &egop)?;
/// assert!((0.0..=1.0).contains(&cos));
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn agop_alignment(net: &FiniteNetwork, x: &DMatrix<f64>, egop: &DMatrix<f64>) -> Result<f64> {
    if net.output_dim() != 1 {
        return Err(invalid(
            "output_dim",
            net.output_dim(),
            "the AGOP alignment is for one output",
        ));
    }
    check_inputs(x, net.input_dim(), "x")?;
    check_square(egop, "egop")?;
    check_finite_matrix(egop, "egop")?;
    if egop.nrows() != net.input_dim() {
        return Err(Error::ShapeMismatch {
            what: "egop (d × d, d the input dimension)".into(),
            expected: format!("{0} × {0}", net.input_dim()),
            found: format!("{} × {}", egop.nrows(), egop.ncols()),
        });
    }
    let g = crate::feature::agop(net, x, false)?;
    if g.norm() == 0.0 || egop.norm() == 0.0 {
        return Err(invalid(
            "egop",
            "0",
            "the alignment of a zero matrix is undefined (the AGOP or the EGOP vanishes)",
        ));
    }
    crate::feature::cosine_similarity(&g, egop)
}
