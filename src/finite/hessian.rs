//! Second order in the parameters: the flat parameter vector θ of a [`FiniteNetwork`], the
//! parameter gradient ∇_θf(x), exact Hessian-vector products H_f(x)·v (Pearlmutter's R-operator),
//! the spectral norm ‖H_f(x)‖ by Lanczos, and the closed-form eigenvalues of a two-layer network's
//! Hessian (NTK lecture, seed 004, Prop. 1 and App. A).

use super::{FiniteNetwork, Stage};
use crate::error::invalid;
use crate::linalg::{check_finite_slice, sym_eigen};
use crate::network::{Layer, Parameterization};
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// φ''(z) by a central difference of φ' (activations only expose φ and φ'): step 1e-5·max(1, |z|),
/// so the truncation error is O(1e-10·φ'''') and rounding O(1e-11·|φ'|); exactly 0 for piecewise
/// linear activations away from their kinks.
fn second_derivative(phi: &crate::Activation, z: f64) -> f64 {
    let h = 1e-5 * z.abs().max(1.0);
    (phi.derivative(z + h) - phi.derivative(z - h)) / (2.0 * h)
}

impl FiniteNetwork {
    /// All parameters θ as one vector: for every Dense layer in order, its raw weights W row by row
    /// (n_out × n_in), then its raw bias when it has one. This is the layout of
    /// [`parameter_gradient`](Self::parameter_gradient) and
    /// [`hessian_vector_product`](Self::hessian_vector_product).
    pub fn parameters(&self) -> DVector<f64> {
        let mut theta = Vec::with_capacity(self.n_parameters());
        for (w, b) in self.affine_parameters() {
            for i in 0..w.nrows() {
                theta.extend(w.row(i).iter());
            }
            if let Some(b) = b {
                theta.extend(b.iter());
            }
        }
        DVector::from_vec(theta)
    }

    /// Sets all parameters from a vector laid out as [`parameters`](Self::parameters) (finite,
    /// of length [`n_parameters`](Self::n_parameters)).
    pub fn set_parameters(&mut self, theta: &DVector<f64>) -> Result<()> {
        self.require_fully_connected("setting the parameters from a vector")?;
        self.check_parameter_vector(theta, "theta")?;
        let mut at = 0;
        for stage in self.stages_mut() {
            if let Stage::Dense(p) = stage {
                let (r, c) = p.w.shape();
                for i in 0..r {
                    for j in 0..c {
                        p.w[(i, j)] = theta[at + i * c + j];
                    }
                }
                at += r * c;
                if let Some(b) = p.b.as_mut() {
                    let len = b.len();
                    b.copy_from(&theta.rows(at, len));
                    at += len;
                }
            }
        }
        Ok(())
    }

    fn check_parameter_vector(&self, v: &DVector<f64>, what: &str) -> Result<()> {
        if v.len() != self.n_parameters() {
            return Err(Error::ShapeMismatch {
                what: format!("{what} (one entry per parameter, in the order of `parameters`)"),
                expected: self.n_parameters().to_string(),
                found: v.len().to_string(),
            });
        }
        check_finite_slice(v.as_slice(), what)
    }

    fn check_output_index(&self, output: usize) -> Result<()> {
        if output >= self.output_dim() {
            return Err(invalid(
                "output",
                output,
                &format!("must be below the output dimension {}", self.output_dim()),
            ));
        }
        Ok(())
    }

    /// ∇_θ f_o(x): the gradient of output `output` at the point `x` (length d) with respect to all
    /// parameters, laid out as [`parameters`](Self::parameters). Its squared norm is the empirical
    /// NTK Θ̂(x, x) of that output.
    pub fn parameter_gradient(&self, x: &[f64], output: usize) -> Result<DVector<f64>> {
        self.require_fully_connected("the parameter gradient")?;
        self.check_output_index(output)?;
        let zero = DVector::zeros(self.n_parameters());
        Ok(self.r_op(x, output, &zero)?.0)
    }

    /// The Hessian-vector product H_f(x)·v, with H_f(x) = ∂²f_o(x)/∂θ², for output `output` at `x`
    /// and a direction `v` laid out as [`parameters`](Self::parameters). Exact up to rounding by
    /// Pearlmutter's R-operator (a forward pass of directional derivatives R{·} = d/dε|₀ (·)(θ + εv),
    /// then backpropagation of R{∂f/∂·}); the one approximation is φ'' as a central difference of φ'
    /// (relative error ~1e-10), exactly 0 for ReLU-type activations off their kinks.
    pub fn hessian_vector_product(
        &self,
        x: &[f64],
        output: usize,
        v: &DVector<f64>,
    ) -> Result<DVector<f64>> {
        self.check_output_index(output)?;
        self.check_parameter_vector(v, "v")?;
        Ok(self.r_op(x, output, v)?.1)
    }

    /// The spectral norm ‖H_f(x)‖₂ = max |eigenvalue| of the parameter Hessian of output `output`
    /// at `x`, from `iterations` Lanczos steps (with full reorthogonalization, seeded start) on
    /// [`hessian_vector_product`](Self::hessian_vector_product): the extreme Ritz values converge
    /// first, and with iterations ≥ p (parameters) the result is exact to rounding. Transition to
    /// linearity (Zhu 2024, Thm 2.3.6) is ‖H_f‖ = Õ(1/√m) in the width m.
    pub fn hessian_norm(&self, x: &[f64], output: usize, iterations: usize) -> Result<f64> {
        self.check_output_index(output)?;
        if iterations == 0 {
            return Err(invalid("iterations", 0, "Lanczos needs at least one step"));
        }
        let p = self.n_parameters();
        let k = iterations.min(p);
        let mut rng = ChaCha8Rng::seed_from_u64(0x4e51);
        let mut q = DVector::from_fn(p, |_, _| StandardNormal.sample(&mut rng));
        q /= q.norm();
        let mut basis: Vec<DVector<f64>> = Vec::with_capacity(k);
        let (mut alpha, mut beta) = (Vec::with_capacity(k), Vec::with_capacity(k));
        for j in 0..k {
            let mut w = self.r_op(x, output, &q)?.1;
            let a = w.dot(&q);
            alpha.push(a);
            basis.push(q.clone());
            // Full reorthogonalization (twice is enough in floating point).
            for _ in 0..2 {
                for b in &basis {
                    let c = w.dot(b);
                    w.axpy(-c, b, 1.0);
                }
            }
            let bnorm = w.norm();
            if j + 1 == k || bnorm <= 1e-12 * a.abs().max(1e-300) {
                break;
            }
            beta.push(bnorm);
            q = w / bnorm;
        }
        let size = alpha.len();
        let t = DMatrix::from_fn(size, size, |i, j| {
            if i == j {
                alpha[i]
            } else if i == j + 1 {
                beta[j]
            } else if j == i + 1 {
                beta[i]
            } else {
                0.0
            }
        });
        let (vals, _) = sym_eigen(&t, "the Lanczos tridiagonal matrix")?;
        Ok(vals.iter().fold(0.0f64, |m, v| m.max(v.abs())))
    }

    /// The 2k eigenvalues of the parameter Hessian of a one-hidden-layer network
    /// f(x) = a₂·Σᵢ Aᵢ φ(a₁Bᵢx) on a scalar input x, in closed form (seed 004, App. A): the
    /// Hessian is block diagonal with one 2 × 2 block per hidden unit in (Aᵢ, Bᵢ), whose
    /// eigenvalues are
    ///
    /// (α ± √(α² + 4β²))/2,  α = a₂a₁²Aᵢφ''(zᵢ)x²,  β = a₂a₁φ'(zᵢ)x,  zᵢ = a₁Bᵢx,
    ///
    /// with a₁ = σ_w of the first layer (its fan-in d is 1) and a₂ = σ_w/√k of the readout; for
    /// σ_w = 1 this is the lecture's (Aφ''x² ± √(A²φ''²x⁴ + 4φ'²x²))/(2√k). Returned in
    /// descending order. Needs a network `Dense → activation → Dense` in the NTK parameterization,
    /// without biases, with d = 1 and one output.
    pub fn two_layer_hessian_eigenvalues(&self, x: f64) -> Result<Vec<f64>> {
        crate::linalg::check_finite_param("x", x)?;
        let layers = self.spec().layers();
        let shape_ok = matches!(
            layers,
            [Layer::Dense(d1), Layer::Activation(_), Layer::Dense(d2)]
                if d1.b_std.is_none() && d2.b_std.is_none()
        ) && self.spec().parameterization() == Parameterization::Ntk
            && self.input_dim() == 1
            && self.output_dim() == 1;
        if !shape_ok {
            return Err(Error::InvalidNetwork(
                "the closed-form Hessian eigenvalues are for a network Dense → activation → \
                 Dense without biases, in the NTK parameterization, with one input and one \
                 output (seed 004, App. A); use `hessian_norm` for any other network"
                    .into(),
            ));
        }
        let (first, act, second) = match self.stages() {
            [Stage::Dense(a), Stage::Act(phi), Stage::Dense(b)] => (a, phi, b),
            _ => unreachable!("the spec was checked to be Dense → activation → Dense"),
        };
        let (a1, a2) = (first.w_mult, second.w_mult);
        let mut eig = Vec::with_capacity(2 * first.w.nrows());
        for i in 0..first.w.nrows() {
            let z = a1 * first.w[(i, 0)] * x;
            let alpha = a2 * a1 * a1 * second.w[(0, i)] * second_derivative(act, z) * x * x;
            let beta = a2 * a1 * act.derivative(z) * x;
            let root = (alpha * alpha + 4.0 * beta * beta).sqrt();
            eig.push(0.5 * (alpha + root));
            eig.push(0.5 * (alpha - root));
        }
        eig.sort_by(|a, b| b.total_cmp(a));
        Ok(eig)
    }

    /// The gradient ∇_θf_o(x) and the Hessian-vector product H·v, by one forward pass carrying
    /// R{·} and one backward pass.
    fn r_op(
        &self,
        x: &[f64],
        output: usize,
        v: &DVector<f64>,
    ) -> Result<(DVector<f64>, DVector<f64>)> {
        self.require_fully_connected("Hessian-vector products")?;
        super::check_inputs(
            &DMatrix::from_row_slice(1, x.len(), x),
            self.input_dim(),
            "x",
        )?;
        let stages = self.stages();
        // Offsets of each Dense layer's block in θ.
        let mut offsets = Vec::with_capacity(stages.len());
        let mut at = 0;
        for s in stages {
            offsets.push(at);
            if let Stage::Dense(p) = s {
                at += p.w.len() + p.b.as_ref().map_or(0, |b| b.len());
            }
        }
        let block = |s: usize, p: &super::DenseParams| {
            let (r, c) = p.w.shape();
            let vw = DMatrix::from_row_slice(r, c, &v.as_slice()[offsets[s]..offsets[s] + r * c]);
            let vb =
                p.b.as_ref()
                    .map(|b| v.rows(offsets[s] + r * c, b.len()).into_owned());
            (vw, vb)
        };
        // Forward: h and R{h} entering each stage, z and R{z} at activations.
        let mut h = DVector::from_column_slice(x);
        let mut rh = DVector::zeros(x.len());
        let mut saved: Vec<(DVector<f64>, DVector<f64>)> = Vec::with_capacity(stages.len());
        for (s, stage) in stages.iter().enumerate() {
            saved.push((h.clone(), rh.clone()));
            match stage {
                Stage::Dense(p) => {
                    let (vw, vb) = block(s, p);
                    let mut z = &p.w * &h * p.w_mult;
                    let mut rz = (&vw * &h + &p.w * &rh) * p.w_mult;
                    if let (Some(b), Some(vb)) = (&p.b, &vb) {
                        z.axpy(p.b_mult, b, 1.0);
                        rz.axpy(p.b_mult, vb, 1.0);
                    }
                    (h, rh) = (z, rz);
                }
                Stage::Act(a) => {
                    let d = h.map(|z| a.derivative(z));
                    rh = rh.component_mul(&d);
                    h = h.map(|z| a.eval(z));
                }
            }
        }
        if let Some(bad) = h.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFiniteOutput {
                what: "forward pass".into(),
                value: *bad,
            });
        }
        // Backward: g = ∂f_o/∂(stage output) and R{g}.
        let mut g = DVector::zeros(self.output_dim());
        g[output] = 1.0;
        let mut rg = DVector::zeros(self.output_dim());
        let mut grad = DVector::zeros(self.n_parameters());
        let mut hv = DVector::zeros(self.n_parameters());
        for (s, stage) in stages.iter().enumerate().rev() {
            let (h_in, rh_in) = &saved[s];
            match stage {
                Stage::Dense(p) => {
                    let (vw, _) = block(s, p);
                    let (r, c) = p.w.shape();
                    let a = p.w_mult;
                    for i in 0..r {
                        for j in 0..c {
                            let k = offsets[s] + i * c + j;
                            grad[k] = a * g[i] * h_in[j];
                            hv[k] = a * (rg[i] * h_in[j] + g[i] * rh_in[j]);
                        }
                    }
                    if p.b.is_some() {
                        let k = offsets[s] + r * c;
                        grad.rows_mut(k, r).copy_from(&(&g * p.b_mult));
                        hv.rows_mut(k, r).copy_from(&(&rg * p.b_mult));
                    }
                    let g_in = p.w.tr_mul(&g) * a;
                    let rg_in = (vw.tr_mul(&g) + p.w.tr_mul(&rg)) * a;
                    (g, rg) = (g_in, rg_in);
                }
                Stage::Act(act) => {
                    // h_in is z here, rh_in is R{z}.
                    let d = h_in.map(|z| act.derivative(z));
                    let dd = h_in.map(|z| second_derivative(act, z));
                    let rg_in = dd.component_mul(rh_in).component_mul(&g) + d.component_mul(&rg);
                    g = g.component_mul(&d);
                    rg = rg_in;
                }
            }
        }
        Ok((grad, hv))
    }
}
