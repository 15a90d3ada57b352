//! The quadratic model of a network (Zhu 2024, eq. 3.2): the second-order Taylor expansion of f in
//! its parameters around w₀, trained by gradient descent on ½Σ(g − y)².

use crate::error::invalid;
use crate::linalg::{
    check_finite_matrix, check_finite_param, check_finite_slice, check_shape, shape_error,
};
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// The Hessians H_f(xᵢ) of the model, one per example.
#[derive(Debug, Clone, PartialEq)]
enum Hessians {
    /// Dense p × p matrices.
    Dense(Vec<DMatrix<f64>>),
    /// The two-layer ReLU network of eq. 3.9: ∂²f/∂uₖ∂vₖ = s·1{u₀ₖᵀxᵢ ≥ 0}·xᵢ with s = 1/√(md),
    /// every other block 0 (App. B.1). Parameters are laid out as u₁ … u_m (d each), then v.
    TwoLayer {
        x: DMatrix<f64>,
        active: DMatrix<f64>,
        relu: DMatrix<f64>,
        v0: DVector<f64>,
        scale: f64,
    },
}

/// A quadratic model of n outputs in p parameters, g(w; xᵢ) = f₀ᵢ + Δᵀ∇f₀ᵢ + ½ΔᵀHᵢΔ with
/// Δ = w − w₀ (Zhu 2024, eq. 3.2; the NQM when f₀, ∇f₀ and Hᵢ come from a network).
///
/// Gradient descent on L = ½Σᵢ(gᵢ − yᵢ)² with learning rate η is Δ ← Δ − η·J(Δ)ᵀ(g(Δ) − y), with
/// J(Δ) the n × p Jacobian whose row i is ∇f₀ᵢ + HᵢΔ; the tangent kernel is K = JJᵀ. Because the
/// model is exactly quadratic, one step moves the residual r = g − y and the kernel by (eqs.
/// 3.15–3.16, the second as corrected in the issue; the thesis prints −¼η(4G Jᵀ − ηGGᵀ))
///
/// r′ = (I − ηK + ½η²G Jᵀ) r,  K′ = K − η(G Jᵀ + J Gᵀ) + η²G Gᵀ,  with Gᵢ,: = rᵀJ Hᵢ,
///
/// which [`predicted_step`](Self::predicted_step) evaluates and [`step`](Self::step) must agree with.
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use ntk::quadratic::QuadraticModel;
///
/// // g(w; x) = wᵀφ(x) + ½γ wᵀΣ(x) w (eq. 3.3) with one example, two parameters.
/// let phi = DMatrix::from_row_slice(1, 2, &[1.0, 0.0]);
/// let sigma = vec![DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0])];
/// let model = QuadraticModel::general(&phi, &sigma, 0.1, &DVector::from_vec(vec![0.5, 0.5]))?;
/// let y = DVector::from_vec(vec![1.0]);
/// let run = model.train(&y, 0.5, 200)?;
/// assert!(run.diverged_at.is_none() && run.loss.last().unwrap() < &1e-20);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticModel {
    f0: DVector<f64>,
    jacobian: DMatrix<f64>,
    hessians: Hessians,
}

/// A gradient-descent run of a [`QuadraticModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticRun {
    /// ½‖g − y‖² at steps 0, 1, … (`steps + 1` values, fewer if the run diverged).
    pub loss: Vec<f64>,
    /// The parameter displacement Δ = w − w₀ after the last step kept.
    pub delta: DVector<f64>,
    /// The first step whose loss exceeded the divergence threshold
    /// ([`DEFAULT_DIVERGENCE_LOSS`](super::DEFAULT_DIVERGENCE_LOSS)) or was not finite; `delta` is
    /// then the one before it.
    pub diverged_at: Option<usize>,
}

impl QuadraticModel {
    /// The model with outputs `f0` (n), Jacobian `jacobian` (n × p) and Hessians `hessians` (n
    /// matrices p × p, symmetric) at w₀, all finite.
    pub fn new(
        f0: DVector<f64>,
        jacobian: DMatrix<f64>,
        hessians: Vec<DMatrix<f64>>,
    ) -> Result<QuadraticModel> {
        let (n, p) = jacobian.shape();
        if n == 0 || p == 0 {
            return Err(shape_error(
                "jacobian",
                "n × p with n, p ≥ 1".into(),
                (n, p),
            ));
        }
        if f0.len() != n {
            return Err(Error::ShapeMismatch {
                what: "f0 (one output per row of the Jacobian)".into(),
                expected: n.to_string(),
                found: f0.len().to_string(),
            });
        }
        check_finite_matrix(&jacobian, "jacobian")?;
        check_finite_slice(f0.as_slice(), "f0")?;
        if hessians.len() != n {
            return Err(Error::ShapeMismatch {
                what: "hessians (one per example)".into(),
                expected: n.to_string(),
                found: hessians.len().to_string(),
            });
        }
        for (i, h) in hessians.iter().enumerate() {
            let what = format!("hessians[{i}]");
            check_shape(h, (p, p), &what)?;
            check_finite_matrix(h, &what)?;
            let asym = (h - h.transpose()).amax();
            if asym > 1e-12 * h.amax().max(1.0) {
                return Err(invalid(
                    &what,
                    format!("asymmetry {asym:e}"),
                    "a Hessian is symmetric; pass (H + Hᵀ)/2",
                ));
            }
        }
        Ok(QuadraticModel {
            f0,
            jacobian,
            hessians: Hessians::Dense(hessians),
        })
    }

    /// The general quadratic model g(w; x) = wᵀφ(x) + ½γ·wᵀΣ(x)w (Zhu 2024, eq. 3.3) around w₀:
    /// `phi` holds φ(xᵢ) as rows (n × p), `sigma` the symmetric Σ(xᵢ), γ ≥ 0 sets the curvature
    /// (the model is linear at γ = 0). As a [`QuadraticModel`]: f₀ᵢ = w₀ᵀφᵢ + ½γw₀ᵀΣᵢw₀,
    /// ∇f₀ᵢ = φᵢ + γΣᵢw₀, Hᵢ = γΣᵢ.
    pub fn general(
        phi: &DMatrix<f64>,
        sigma: &[DMatrix<f64>],
        gamma: f64,
        w0: &DVector<f64>,
    ) -> Result<QuadraticModel> {
        check_finite_param("gamma", gamma)?;
        if gamma < 0.0 {
            return Err(invalid("gamma", gamma, "must be ≥ 0"));
        }
        let (n, p) = phi.shape();
        if w0.len() != p {
            return Err(Error::ShapeMismatch {
                what: "w0 (one entry per column of phi)".into(),
                expected: p.to_string(),
                found: w0.len().to_string(),
            });
        }
        check_finite_slice(w0.as_slice(), "w0")?;
        check_finite_matrix(phi, "phi")?;
        if sigma.len() != n {
            return Err(Error::ShapeMismatch {
                what: "sigma (one matrix per row of phi)".into(),
                expected: n.to_string(),
                found: sigma.len().to_string(),
            });
        }
        let mut f0 = DVector::zeros(n);
        let mut jac = phi.clone();
        let mut hess = Vec::with_capacity(n);
        for (i, s) in sigma.iter().enumerate() {
            check_shape(s, (p, p), &format!("sigma[{i}]"))?;
            check_finite_matrix(s, &format!("sigma[{i}]"))?;
            let sw = s * w0;
            f0[i] = phi.row(i).transpose().dot(w0) + 0.5 * gamma * w0.dot(&sw);
            let row = jac.row(i) + sw.transpose() * gamma;
            jac.row_mut(i).copy_from(&row);
            hess.push(s * gamma);
        }
        QuadraticModel::new(f0, jac, hess)
    }

    /// The NQM of the two-layer ReLU network f(u, v; x) = m^{−½}Σₖ vₖσ(uₖᵀx/√d) (Zhu 2024,
    /// eqs. 3.9–3.10) at u₀ (`u0`, m × d, row k = uₖ) and v₀ (`v0`, m), on the examples `x`
    /// (n × d): f₀, ∇f₀ with ∂f/∂uₖ = (md)^{−½}vₖ1{uₖᵀx ≥ 0}x and ∂f/∂vₖ = (md)^{−½}σ(uₖᵀx), and
    /// the sparse Hessian ∂²f/∂uₖ∂vₖ = (md)^{−½}1{u₀ₖᵀx ≥ 0}x (App. B.1), kept in that form (never
    /// p × p). Parameters are ordered u₁, …, u_m, then v. For one example its GD is exactly the
    /// recursion of [`ScalarNqm`](super::ScalarNqm) with c = ‖x‖²/(md).
    pub fn two_layer(
        u0: &DMatrix<f64>,
        v0: &DVector<f64>,
        x: &DMatrix<f64>,
    ) -> Result<QuadraticModel> {
        let (m, d) = u0.shape();
        if m == 0 || d == 0 {
            return Err(shape_error("u0", "m × d with m, d ≥ 1".into(), (m, d)));
        }
        if v0.len() != m {
            return Err(Error::ShapeMismatch {
                what: "v0 (one output weight per hidden unit, a row of u0)".into(),
                expected: m.to_string(),
                found: v0.len().to_string(),
            });
        }
        crate::finite::check_inputs(x, d, "x")?;
        check_finite_matrix(u0, "u0")?;
        check_finite_slice(v0.as_slice(), "v0")?;
        let n = x.nrows();
        let scale = 1.0 / ((m * d) as f64).sqrt();
        let pre = x * u0.transpose(); // n × m, uₖᵀxᵢ
        let active = pre.map(|z| if z >= 0.0 { 1.0 } else { 0.0 });
        let p = m * (d + 1);
        let mut jac = DMatrix::zeros(n, p);
        let mut f0 = DVector::zeros(n);
        for i in 0..n {
            for k in 0..m {
                let a = active[(i, k)];
                let relu = pre[(i, k)].max(0.0);
                f0[i] += scale * v0[k] * relu;
                for j in 0..d {
                    jac[(i, k * d + j)] = scale * v0[k] * a * x[(i, j)];
                }
                jac[(i, m * d + k)] = scale * relu;
            }
        }
        Ok(QuadraticModel {
            f0,
            jacobian: jac,
            hessians: Hessians::TwoLayer {
                x: x.clone(),
                relu: pre.map(|z| z.max(0.0)),
                active,
                v0: v0.clone(),
                scale,
            },
        })
    }

    /// Number of examples n.
    pub fn n_examples(&self) -> usize {
        self.jacobian.nrows()
    }

    /// Number of parameters p.
    pub fn n_parameters(&self) -> usize {
        self.jacobian.ncols()
    }

    /// Hᵢ·Δ.
    fn hessian_times(&self, i: usize, delta: &DVector<f64>) -> DVector<f64> {
        match &self.hessians {
            Hessians::Dense(h) => &h[i] * delta,
            Hessians::TwoLayer {
                x, active, scale, ..
            } => {
                let d = x.ncols();
                let m = active.ncols();
                let mut out = DVector::zeros(m * (d + 1));
                for k in 0..m {
                    let a = active[(i, k)];
                    if a == 0.0 {
                        continue;
                    }
                    let dv = delta[m * d + k];
                    let mut xu = 0.0;
                    for j in 0..d {
                        out[k * d + j] = scale * dv * x[(i, j)];
                        xu += x[(i, j)] * delta[k * d + j];
                    }
                    out[m * d + k] = scale * xu;
                }
                out
            }
        }
    }

    fn check_delta(&self, delta: &DVector<f64>) -> Result<()> {
        if delta.len() != self.n_parameters() {
            return Err(Error::ShapeMismatch {
                what: "delta = w − w₀ (one entry per parameter)".into(),
                expected: self.n_parameters().to_string(),
                found: delta.len().to_string(),
            });
        }
        check_finite_slice(delta.as_slice(), "delta")
    }

    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        if y.len() != self.n_examples() {
            return Err(Error::ShapeMismatch {
                what: "y (one target per example)".into(),
                expected: self.n_examples().to_string(),
                found: y.len().to_string(),
            });
        }
        check_finite_slice(y.as_slice(), "y")
    }

    /// The outputs g(w₀ + Δ) at every example, and the Jacobian J(Δ) (row i: ∇f₀ᵢ + HᵢΔ).
    fn eval(&self, delta: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        if let Hessians::TwoLayer {
            x,
            active,
            relu,
            v0,
            scale,
        } = &self.hessians
        {
            return two_layer_eval(x, active, relu, v0, *scale, delta);
        }
        let n = self.n_examples();
        let mut jac = self.jacobian.clone();
        let mut g = self.f0.clone();
        for i in 0..n {
            let hd = self.hessian_times(i, delta);
            g[i] += self.jacobian.row(i).transpose().dot(delta) + 0.5 * delta.dot(&hd);
            let row = jac.row(i) + hd.transpose();
            jac.row_mut(i).copy_from(&row);
        }
        (g, jac)
    }

    /// The outputs g(w₀ + Δ) (n).
    pub fn outputs(&self, delta: &DVector<f64>) -> Result<DVector<f64>> {
        self.check_delta(delta)?;
        Ok(self.eval(delta).0)
    }

    /// The Jacobian J(Δ) = ∂g/∂w at w₀ + Δ (n × p).
    pub fn jacobian(&self, delta: &DVector<f64>) -> Result<DMatrix<f64>> {
        self.check_delta(delta)?;
        Ok(self.eval(delta).1)
    }

    /// The tangent kernel K(Δ) = J(Δ)J(Δ)ᵀ (n × n).
    pub fn kernel(&self, delta: &DVector<f64>) -> Result<DMatrix<f64>> {
        let j = self.jacobian(delta)?;
        Ok(&j * j.transpose())
    }

    /// One gradient-descent step on ½‖g − y‖²: Δ − η·J(Δ)ᵀ(g(Δ) − y).
    pub fn step(
        &self,
        delta: &DVector<f64>,
        y: &DVector<f64>,
        learning_rate: f64,
    ) -> Result<DVector<f64>> {
        self.check_delta(delta)?;
        self.check_targets(y)?;
        check_learning_rate(learning_rate)?;
        let (g, jac) = self.eval(delta);
        Ok(delta - jac.tr_mul(&(g - y)) * learning_rate)
    }

    /// The residual r′ = g(Δ′) − y and kernel K(Δ′) after one step from Δ, by eqs. 3.15 and
    /// (corrected) 3.16 from r, J and the Hessians at Δ alone (see the type documentation).
    pub fn predicted_step(
        &self,
        delta: &DVector<f64>,
        y: &DVector<f64>,
        learning_rate: f64,
    ) -> Result<(DVector<f64>, DMatrix<f64>)> {
        self.check_delta(delta)?;
        self.check_targets(y)?;
        check_learning_rate(learning_rate)?;
        let eta = learning_rate;
        let (g, jac) = self.eval(delta);
        let r = g - y;
        let jtr = jac.transpose() * &r; // Jᵀr = ∇L
        let n = self.n_examples();
        // Gᵢ,: = rᵀJHᵢ = (Hᵢ Jᵀr)ᵀ, Hᵢ symmetric.
        let mut gm = DMatrix::zeros(n, self.n_parameters());
        for i in 0..n {
            gm.row_mut(i)
                .copy_from(&self.hessian_times(i, &jtr).transpose());
        }
        let k = &jac * jac.transpose();
        let r_next = &r - &k * &r * eta + &gm * &jtr * (0.5 * eta * eta);
        let gjt = &gm * jac.transpose();
        let k_next = &k - (&gjt + gjt.transpose()) * eta + &gm * gm.transpose() * (eta * eta);
        Ok((r_next, k_next))
    }

    /// `steps` steps of gradient descent from Δ = 0 on ½‖g − y‖², stopping at the first loss above
    /// [`DEFAULT_DIVERGENCE_LOSS`](super::DEFAULT_DIVERGENCE_LOSS) or not finite.
    pub fn train(
        &self,
        y: &DVector<f64>,
        learning_rate: f64,
        steps: usize,
    ) -> Result<QuadraticRun> {
        self.check_targets(y)?;
        check_learning_rate(learning_rate)?;
        let mut delta = DVector::zeros(self.n_parameters());
        let (mut g, mut jac) = self.eval(&delta);
        let mut loss = vec![0.5 * (&g - y).norm_squared()];
        for step in 1..=steps {
            let next = &delta - jac.tr_mul(&(&g - y)) * learning_rate;
            let (g2, jac2) = self.eval(&next);
            let l = 0.5 * (&g2 - y).norm_squared();
            if l.is_nan() || l > super::DEFAULT_DIVERGENCE_LOSS {
                return Ok(QuadraticRun {
                    loss,
                    delta,
                    diverged_at: Some(step),
                });
            }
            loss.push(l);
            (delta, g, jac) = (next, g2, jac2);
        }
        Ok(QuadraticRun {
            loss,
            delta,
            diverged_at: None,
        })
    }
}

/// [`QuadraticModel::eval`] for the two-layer NQM without forming Hᵢ: with a = 1{u₀ᵀxᵢ ≥ 0},
/// ∂g/∂uₖ = s·aᵢₖ(v₀ₖ + Δvₖ)xᵢ, ∂g/∂vₖ = s·(σ(u₀ₖᵀxᵢ) + aᵢₖxᵢᵀΔuₖ) and
/// g = f₀ + s·Σₖ(aᵢₖv₀ₖxᵢᵀΔuₖ + σ(u₀ₖᵀxᵢ)Δvₖ + aᵢₖΔvₖxᵢᵀΔuₖ) (eq. 3.10), in O(nmd).
fn two_layer_eval(
    x: &DMatrix<f64>,
    active: &DMatrix<f64>,
    relu: &DMatrix<f64>,
    v0: &DVector<f64>,
    s: f64,
    delta: &DVector<f64>,
) -> (DVector<f64>, DMatrix<f64>) {
    let (n, d) = x.shape();
    let m = v0.len();
    let du = DMatrix::from_row_slice(m, d, &delta.as_slice()[..m * d]);
    let dv = delta.rows(m * d, m);
    let xdu = x * du.transpose(); // n × m, xᵢᵀΔuₖ
    let mut jac = DMatrix::zeros(n, m * (d + 1));
    let mut g = DVector::zeros(n);
    for k in 0..m {
        let v = v0[k] + dv[k];
        for j in 0..d {
            let col = k * d + j;
            for i in 0..n {
                jac[(i, col)] = s * active[(i, k)] * v * x[(i, j)];
            }
        }
        for i in 0..n {
            let a = active[(i, k)];
            let r = relu[(i, k)];
            jac[(i, m * d + k)] = s * (r + a * xdu[(i, k)]);
            g[i] += s * (v0[k] * r + a * v0[k] * xdu[(i, k)] + r * dv[k] + a * dv[k] * xdu[(i, k)]);
        }
    }
    (g, jac)
}

pub(crate) fn check_learning_rate(eta: f64) -> Result<()> {
    check_finite_param("learning_rate", eta)?;
    if eta <= 0.0 {
        return Err(invalid("learning_rate", eta, "must be > 0"));
    }
    Ok(())
}
