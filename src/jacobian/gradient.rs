//! Input gradients of the kernels: ∇ₓΣ(x', x) and ∇ₓΘ(x', x) in closed form.
//!
//! A fully connected network's kernels depend on the inputs only through c₀ = x'·x/d and
//! q = x·x/d (and x'·x'/d, fixed here), so
//!
//! ∇ₓK(x', x) = (∂K/∂c₀)·x'/d + (∂K/∂q)·2x/d,
//!
//! and the two partials are carried through every layer of the recursion by forward-mode
//! derivatives ([`Fwd`]): exact to rounding, O(depth) per pair, no step size.
//!
//! **Where there is no derivative.** When a layer's two pre-activations are perfectly correlated
//! (x parallel to x', in particular x = x', a training point) the pair sits on the edge of the
//! covariance cone: the map x ↦ (c₀, q) has rank one there and the angle between the two points grows
//! like |δx|. The kernel is then differentiable only if no layer's dual map has a slope that blows up
//! at θ = 0 (see [`Smoothness`]): the NNGP of ReLU networks is, their NTK is not (its one-sided
//! slopes differ). If it is differentiable, its gradient is parallel to x and is obtained exactly by
//! differentiating along the ray x(1 + ε), on which the pair stays degenerate. Otherwise the result
//! is [`Error::NotDifferentiable`]. The same holds for a zero input without bias (a layer sees an
//! identically zero pre-activation), where φ itself must be smooth at 0.

use crate::activation::Smoothness;
use crate::error::Error;
use crate::forward::Fwd;
use crate::layers::{self, ActivationStage, DenseStage, FullyConnected, KernelState};
use crate::network::Network;
use crate::real::ANGLE_FLOOR;
use crate::{KernelKind, Result};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// What the kernels of networks beyond fully connected ones do not have yet.
const GRADIENTS: &str = "input gradients of the kernel";

/// Σ(x', x) and Θ(x', x) with their gradients with respect to the second point x.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelGradient {
    /// Σ(x', x).
    pub nngp: f64,
    /// Θ(x', x).
    pub ntk: f64,
    /// ∇ₓΣ(x', x), or the reason it does not exist.
    pub nngp_grad: std::result::Result<DVector<f64>, Error>,
    /// ∇ₓΘ(x', x), or the reason it does not exist.
    pub ntk_grad: std::result::Result<DVector<f64>, Error>,
}

/// The kernel vector k(x) = (K(x₁, x), …, K(xₙ, x)) against the rows of a training matrix, and its
/// Jacobian ∂k/∂x (n × d), for the NNGP or the NTK.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelJacobian {
    /// k(x), length n.
    pub value: DVector<f64>,
    /// ∂k/∂x, n × d: row i is ∇ₓK(xᵢ, x).
    pub jacobian: DMatrix<f64>,
}

/// The seeds of the forward derivatives: the two partials (∂/∂c₀, ∂/∂q), or the derivative along
/// the ray x(1 + ε) (slot 0), where c₀ and q move as (c₀, 2q)·ε.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Partials,
    Ray,
}

/// What the recursion found for one pair: Σ and Θ with their seeded derivatives, and the first
/// layer (if any) where each has no derivative.
struct Chain {
    nngp: Fwd<2>,
    ntk: Fwd<2>,
    nngp_kink: Option<String>,
    ntk_kink: Option<String>,
    mode: Mode,
}

impl Network {
    /// Σ(x', x), Θ(x', x) and their gradients with respect to `x` (the second argument). Each
    /// gradient is `Err(`[`Error::NotDifferentiable`]`)` where that kernel has none (see the
    /// [module docs](crate::jacobian::gradient)); bad input (length mismatch, NaN) is an error of the
    /// whole call.
    ///
    /// ```
    /// use ntk::{Activation, Network, Parameterization};
    /// let erf = Activation::Erf { a: 1.0, b: 1.0, c: 0.0 };
    /// let net = Network::mlp(2, erf).w_std(1.5).b_std(0.1).build()?;
    /// let (xi, x) = ([1.0, 0.5, -0.3], [0.2, -0.4, 0.9]);
    /// let g = net.kernel_gradient(&xi, &x)?;
    /// let grad = g.ntk_grad?;
    /// // Compare with a central difference along the first coordinate.
    /// let h = 1e-6;
    /// let k = |t: f64| net.kernel_gradient(&xi, &[x[0] + t, x[1], x[2]]).unwrap().ntk;
    /// assert!((grad[0] - (k(h) - k(-h)) / (2.0 * h)).abs() < 1e-8);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn kernel_gradient(&self, x_fixed: &[f64], x: &[f64]) -> Result<KernelGradient> {
        check_vector("x'", x_fixed)?;
        check_vector("x", x)?;
        if x_fixed.len() != x.len() {
            return Err(Error::ShapeMismatch {
                what: "length of x' and x".into(),
                expected: format!("{}", x_fixed.len()),
                found: format!("{}", x.len()),
            });
        }
        let d = x.len();
        let q = x.iter().map(|v| v * v).sum::<f64>() / d as f64;
        let slots = self.point_slots(q, d)?;
        let chain = self.pair_partials(x_fixed, x, q, &slots)?;
        let grads =
            [KernelKind::Nngp, KernelKind::Ntk].map(|w| self.assemble(&chain, w, x_fixed, x, q));
        let [nngp_grad, ntk_grad] = grads;
        Ok(KernelGradient {
            nngp: chain.nngp.v,
            ntk: chain.ntk.v,
            nngp_grad,
            ntk_grad,
        })
    }

    /// k(x) and ∂k/∂x against every row of `x_train` (points are rows), for the NNGP or the NTK:
    /// row i of the Jacobian is ∇ₓK(xᵢ, x). Fails with [`Error::NotDifferentiable`] if any row has
    /// no gradient there (e.g. the ReLU NTK at a training point).
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::{Activation, KernelKind, Network};
    /// let net = Network::mlp(1, Activation::SigmoidErf).w_std(1.0).build()?;
    /// let x_train = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
    /// let kj = net.kernel_jacobian(&x_train, &[1.0, 0.0, 0.0], KernelKind::Ntk)?;
    /// assert_eq!(kj.jacobian.shape(), (2, 3));
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn kernel_jacobian(
        &self,
        x_train: &DMatrix<f64>,
        x: &[f64],
        which: KernelKind,
    ) -> Result<KernelJacobian> {
        check_vector("x", x)?;
        if x_train.ncols() != x.len() || x_train.nrows() == 0 {
            return Err(Error::ShapeMismatch {
                what: "training points (rows) and the point x".into(),
                expected: format!("at least one row of {} columns", x.len()),
                found: format!("{} × {}", x_train.nrows(), x_train.ncols()),
            });
        }
        crate::linalg::check_finite_matrix(x_train, "training points")?;
        let (n, d) = x_train.shape();
        let q = x.iter().map(|v| v * v).sum::<f64>() / d as f64;
        let slots = self.point_slots(q, d)?;
        let rows: Vec<Result<(f64, DVector<f64>)>> = (0..n)
            .into_par_iter()
            .with_min_len(8)
            .map(|i| {
                let xi: Vec<f64> = x_train.row(i).iter().copied().collect();
                let chain = self.pair_partials(&xi, x, q, &slots)?;
                let value = match which {
                    KernelKind::Nngp => chain.nngp.v,
                    KernelKind::Ntk => chain.ntk.v,
                };
                let g = self
                    .assemble(&chain, which, &xi, x, q)
                    .map_err(|e| match e {
                        Error::NotDifferentiable { what, reason } => Error::NotDifferentiable {
                            what: format!("{what} against training point {i}"),
                            reason,
                        },
                        e => e,
                    })?;
                Ok((value, g))
            })
            .collect();
        let mut value = DVector::zeros(n);
        let mut jacobian = DMatrix::zeros(n, d);
        for (i, r) in rows.into_iter().enumerate() {
            let (v, g) = r?;
            value[i] = v;
            jacobian.set_row(i, &g.transpose());
        }
        Ok(KernelJacobian { value, jacobian })
    }

    /// The pre-activation variances of x with both seeds (∂/∂q, and the ray).
    fn point_slots(&self, q: f64, d: usize) -> Result<Slots> {
        let plan = self.plan(GRADIENTS)?;
        let mut partial = vec![Fwd::<2>::constant(0.0); plan.n_slots()];
        let mut ray = vec![Fwd::<2>::constant(0.0); plan.n_slots()];
        let overflow = |(layer, v)| self.overflow(layer, v);
        plan.point(Fwd::new(q, [0.0, 1.0]), d, &mut partial)
            .map_err(overflow)?;
        plan.point(Fwd::new(q, [2.0 * q, 0.0]), d, &mut ray)
            .map_err(overflow)?;
        Ok(Slots { d, partial, ray })
    }

    fn pair_partials(&self, xi: &[f64], x: &[f64], q: f64, slots: &Slots) -> Result<Chain> {
        let d = slots.d;
        let c0 = xi.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() / d as f64;
        let qi = xi.iter().map(|v| v * v).sum::<f64>() / d as f64;
        let mode = Mode::for_pair(c0, qi, q);
        let (c0, s2) = match mode {
            Mode::Partials => (Fwd::new(c0, [1.0, 0.0]), &slots.partial),
            Mode::Ray => (Fwd::new(c0, [c0, 0.0]), &slots.ray),
        };
        // x' is fixed: its variances carry no derivatives, so the f64 recursion serves.
        let plan = self.plan(GRADIENTS)?;
        let mut s1 = vec![0.0; plan.n_slots()];
        plan.point(qi, d, &mut s1)
            .map_err(|(layer, v)| self.overflow(layer, v))?;
        let s1: Vec<Fwd<2>> = s1.into_iter().map(Fwd::constant).collect();
        let mut state = GradientState {
            network: self,
            c: c0,
            ntk: Fwd::constant(0.0),
            d,
            s1: &s1,
            s2,
            nngp_kink: None,
            ntk_kink: None,
        };
        layers::walk::<_, _, true>(plan.stages(), &mut state)
            .map_err(|(layer, v)| self.overflow(layer, v))?;
        Ok(Chain {
            nngp: state.c,
            ntk: state.ntk,
            nngp_kink: state.nngp_kink,
            ntk_kink: state.ntk_kink,
            mode,
        })
    }

    /// ∇ₓK from the seeded derivatives: (∂K/∂c₀)·x'/d + (∂K/∂q)·2x/d, or on the ray
    /// (dK/dε)·x/‖x‖² (the gradient is parallel to x there).
    fn assemble(
        &self,
        chain: &Chain,
        which: KernelKind,
        xi: &[f64],
        x: &[f64],
        q: f64,
    ) -> Result<DVector<f64>> {
        let (k, kink, name) = match which {
            KernelKind::Nngp => (chain.nngp, &chain.nngp_kink, "the NNGP Σ(x', x)"),
            KernelKind::Ntk => (chain.ntk, &chain.ntk_kink, "the NTK Θ(x', x)"),
        };
        if let Some(reason) = kink {
            return Err(Error::NotDifferentiable {
                what: name.into(),
                reason: reason.clone(),
            });
        }
        if !k.all_finite() {
            return Err(Error::NotDifferentiable {
                what: name.into(),
                reason: "a derivative of the recursion is not finite".into(),
            });
        }
        let d = x.len() as f64;
        Ok(match chain.mode {
            Mode::Partials => {
                DVector::from_fn(x.len(), |j, _| k.d[0] * xi[j] / d + k.d[1] * 2.0 * x[j] / d)
            }
            Mode::Ray => {
                let norm2 = q * d;
                DVector::from_fn(x.len(), |j, _| k.d[0] * x[j] / norm2)
            }
        })
    }
}

/// Per-point variances of x, seeded for the partials and for the ray.
struct Slots {
    d: usize,
    partial: Vec<Fwd<2>>,
    ray: Vec<Fwd<2>>,
}

/// The pair recursion on forward derivatives. Unlike [`layers::Pair`] it has no identical-point
/// shortcut (the two points differ at first order), and it notes the first layer where a
/// degenerate pair meets an activation that is not smooth enough for a derivative.
struct GradientState<'a> {
    network: &'a Network,
    c: Fwd<2>,
    ntk: Fwd<2>,
    d: usize,
    s1: &'a [Fwd<2>],
    s2: &'a [Fwd<2>],
    nngp_kink: Option<String>,
    ntk_kink: Option<String>,
}

impl FullyConnected for GradientState<'_> {
    fn dense(&mut self, dense: &DenseStage) {
        (self.c, self.ntk) = dense.apply(self.c, self.ntk, self.d);
    }

    fn activation(&mut self, act: &ActivationStage) {
        let (a, b) = (self.s1[act.slot], self.s2[act.slot]);
        let p = a.v * b.v;
        let zero_var = b.v == 0.0;
        let degenerate = if zero_var {
            Some((
                "x's pre-activation is identically zero",
                act.smoothness_at_zero,
            ))
        } else if p > 0.0 && p - self.c.v * self.c.v <= ANGLE_FLOOR * p {
            Some((
                "the two pre-activations are perfectly correlated",
                act.smoothness,
            ))
        } else {
            None
        };
        if let Some((why, smooth)) = degenerate {
            let (nngp_bad, ntk_bad) = match smooth {
                Smoothness::Smooth => (false, false),
                Smoothness::KinkedDerivative => (false, zero_var),
                Smoothness::Kinked => (zero_var, true),
                Smoothness::Jump => (true, true),
            };
            let reason = || {
                format!(
                    "at layer {} ({}) {why} and the activation has a kink",
                    act.layer,
                    self.network.layers()[act.layer].name()
                )
            };
            if nngp_bad && self.nngp_kink.is_none() {
                self.nngp_kink = Some(reason());
            }
            if (ntk_bad || nngp_bad) && self.ntk_kink.is_none() {
                self.ntk_kink = Some(reason());
            }
        }
        let (t, dot) = act.exact(self.c, a, b);
        self.c = t;
        self.ntk = self.ntk * dot;
    }
}

impl KernelState for GradientState<'_> {
    fn first_non_finite(&self) -> Option<f64> {
        [self.c.v, self.ntk.v].into_iter().find(|v| !v.is_finite())
    }
}

impl Mode {
    /// The ray is used when x ≠ 0 is (anti)parallel to x' to working precision (c₀² = q'q up to the
    /// angle floor): there the partials do not exist separately but the derivative along x does.
    fn for_pair(c0: f64, q_fixed: f64, q: f64) -> Mode {
        let p = q_fixed * q;
        if q > 0.0 && p > 0.0 && p - c0 * c0 <= ANGLE_FLOOR * p {
            Mode::Ray
        } else {
            Mode::Partials
        }
    }
}

fn check_vector(what: &str, x: &[f64]) -> Result<()> {
    if x.is_empty() {
        return Err(Error::ShapeMismatch {
            what: what.into(),
            expected: "at least one feature".into(),
            found: "an empty vector".into(),
        });
    }
    crate::linalg::check_finite_slice(x, what)
}
