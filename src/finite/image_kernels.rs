//! Gradients of image networks ([`image`](super::image)): per-input parameter gradients and the
//! empirical NNGP/NTK built from them, the input–output Jacobian, and the gradient-descent step.
//!
//! The NTK of one affine layer is Θ̂_l(x, x') = (1/k) Σ_o ⟨g_o(x), g_o(x')⟩ with g_o(x) the
//! gradient of output o with respect to the layer's parameters:
//! ∂f_o/∂W = a_w Σ_pixels δ(o)·patch(o)ᵀ and ∂f_o/∂b = a_b Σ_pixels δ(o), δ = ∂f_o/∂z from
//! backpropagation. The gradients of all inputs form a (#parameters × n) matrix G per layer, and
//! Θ̂_l = GₐᵀG_b is one matrix product; only one layer's G exists at a time.

use super::image::{Affine, ImageNet, ImageTrace, Op, Saved, backward, patches};
use super::kernels::EmpiricalKernels;
use super::{check_output, zeros};
use crate::Result;
use crate::kernel::KernelDiagonal;
use crate::linalg::{Par, gemm};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef};
use nalgebra::{DMatrix, DVector};

/// ∂f/∂z at every affine layer (by id) for output `o` of every traced input.
fn deltas(net: &ImageNet, t: &ImageTrace, o: usize, par: Par) -> Result<Vec<Option<DMatrix<f64>>>> {
    let mut d = zeros(net.output_dim, t.n, "backpropagated vectors")?;
    d.row_mut(o).fill(1.0);
    let mut out = vec![None; net.affines().len()];
    backward(&net.ops, &t.saved, d, t.n, false, &mut out, par)?;
    Ok(out)
}

/// The per-input parameter gradients of affine layer `id` (#parameters × n: column e holds
/// vec(a_w Σ_o δ_e(o) patch_e(o)ᵀ), column-major over C_out × F·C_in, then a_b Σ_o δ_e(o)).
fn gradients(
    a: &Affine,
    t: &ImageTrace,
    delta: &DMatrix<f64>,
    patches: &DMatrix<f64>,
) -> Result<DMatrix<f64>> {
    let (c, k, n) = (a.c_out, a.patch_len(), t.n);
    let p = delta.ncols() / n;
    let np = a.n_parameters();
    let mut g = zeros(np, n, "per-input parameter gradients")?;
    for e in 0..n {
        let col = &mut g.as_mut_slice()[e * np..(e + 1) * np];
        let de = MatRef::from_column_major_slice(&delta.as_slice()[e * p * c..][..p * c], c, p);
        let pe = MatRef::from_column_major_slice(&patches.as_slice()[e * p * k..][..p * k], k, p);
        let (gw, gb) = col.split_at_mut(c * k);
        matmul(
            MatMut::from_column_major_slice_mut(gw, c, k),
            Accum::Replace,
            de,
            pe.transpose(),
            a.w_mult,
            faer::Par::Seq,
        );
        if a.b.is_some() {
            for (r, v) in gb.iter_mut().enumerate() {
                *v = a.b_mult * (0..p).map(|q| de[(r, q)]).sum::<f64>();
            }
        }
    }
    Ok(g)
}

/// The per-layer gradients of output `o` for every traced input, one matrix per affine layer.
fn all_gradients(net: &ImageNet, t: &ImageTrace, o: usize, par: Par) -> Result<Vec<DMatrix<f64>>> {
    let ds = deltas(net, t, o, par)?;
    let mut ps = vec![None; ds.len()];
    patches(&net.ops, &t.saved, &mut ps);
    net.affines()
        .into_iter()
        .zip(ds.iter().zip(&ps))
        .map(|(a, (d, p))| match (d, p) {
            (Some(d), Some(p)) => gradients(a, t, d, p),
            // Every affine layer is reached by backpropagation and saves its patches.
            _ => unreachable!("affine layer {} without a gradient", a.id),
        })
        .collect()
}

impl ImageNet {
    /// The empirical kernels of two traced batches (`tb = None`: `ta` with itself).
    pub(crate) fn kernels(
        &self,
        ta: &ImageTrace,
        tb: Option<&ImageTrace>,
        with_readout: bool,
        par: Par,
    ) -> Result<EmpiricalKernels> {
        let tb_ = tb.unwrap_or(ta);
        let (na, nb) = (ta.n, tb_.n);
        let k = self.output_dim as f64;
        let mut nngp = zeros(na, nb, "the empirical NNGP")?;
        gemm(
            &mut nngp,
            &ta.output,
            true,
            &tb_.output,
            false,
            1.0 / k,
            par,
        );
        let nngp_readout = match self.readout_input(ta).zip(self.readout_input(tb_)) {
            Some(((pa, var), (pb, _))) if with_readout => {
                let mut c = zeros(na, nb, "the readout-integrated NNGP")?;
                gemm(&mut c, pa, true, pb, false, var.0, par);
                c.add_scalar_mut(var.1);
                check_output(&c, "readout-integrated NNGP")?;
                Some(c)
            }
            _ => None,
        };
        let mut ntk = zeros(na, nb, "the empirical NTK")?;
        let mut prod = zeros(na, nb, "a product of gradients")?;
        for o in 0..self.output_dim {
            let ga = all_gradients(self, ta, o, par)?;
            let gb = match tb {
                Some(t) => Some(all_gradients(self, t, o, par)?),
                None => None,
            };
            for (i, a) in ga.iter().enumerate() {
                let b = gb.as_ref().map_or(a, |g| &g[i]);
                gemm(&mut prod, a, true, b, false, 1.0, par);
                ntk += &prod;
            }
        }
        ntk /= k;
        if tb.is_none() {
            crate::linalg::symmetrize(&mut ntk);
            crate::linalg::symmetrize(&mut nngp);
        }
        check_output(&ntk, "empirical NTK")?;
        check_output(&nngp, "empirical NNGP")?;
        Ok(EmpiricalKernels {
            nngp,
            nngp_readout,
            ntk,
        })
    }

    /// The readout's input (F·C_in × n) and its output variances (σ_w²/fan-in, σ_b²), when the
    /// network ends with a dense layer on vectors.
    fn readout_input<'a>(&self, t: &'a ImageTrace) -> Option<(&'a DMatrix<f64>, (f64, f64))> {
        match (self.ops.last(), t.saved.last()) {
            (Some(Op::Affine(a)), Some(Saved::Affine(p))) if a.taps.is_none() && a.p_out == 1 => {
                Some((p, a.out_var))
            }
            _ => None,
        }
    }

    /// Σ̂(x, x) = ‖f(x)‖²/k and Θ̂(x, x) of every traced input, from the squared norms of the
    /// gradients (O(n) products instead of O(n²)).
    pub(crate) fn diagonal(&self, t: &ImageTrace) -> Result<KernelDiagonal> {
        let k = self.output_dim as f64;
        let mut ntk = DVector::zeros(t.n);
        for o in 0..self.output_dim {
            for g in all_gradients(self, t, o, Par::Global)? {
                for (v, col) in ntk.iter_mut().zip(g.column_iter()) {
                    *v += col.norm_squared();
                }
            }
        }
        ntk /= k;
        let nngp =
            DVector::from_iterator(t.n, t.output.column_iter().map(|c| c.norm_squared() / k));
        check_output(
            &DMatrix::from_column_slice(t.n, 1, ntk.as_slice()),
            "empirical NTK",
        )?;
        Ok(KernelDiagonal { nngp, ntk })
    }

    /// J = ∂f/∂x (k × d) at the one traced input, by backpropagating each output to the input.
    pub(crate) fn jacobian(&self, t: &ImageTrace) -> Result<DMatrix<f64>> {
        let d = self.pixels * self.channels;
        let mut j = zeros(self.output_dim, d, "the Jacobian")?;
        let mut sink = vec![None; self.affines().len()];
        for o in 0..self.output_dim {
            let mut e = zeros(self.output_dim, 1, "backpropagated vectors")?;
            e[o] = 1.0;
            if let Some(g) = backward(&self.ops, &t.saved, e, 1, true, &mut sink, Par::Seq)? {
                // C × P, column-major: the channels-last order of the input.
                for (c, v) in g.iter().enumerate() {
                    j[(o, c)] = *v;
                }
            }
        }
        check_output(&j, "Jacobian")?;
        Ok(j)
    }

    /// One gradient-descent step on the loss whose gradient with respect to the outputs is `g`
    /// (n × k): every parameter moves by −lr·∂L/∂θ, the gradients taken before any update.
    pub(crate) fn step(&mut self, t: &ImageTrace, g: &DMatrix<f64>, lr: f64) -> Result<()> {
        let mut ds = vec![None; self.affines().len()];
        backward(
            &self.ops,
            &t.saved,
            g.transpose(),
            t.n,
            false,
            &mut ds,
            Par::Global,
        )?;
        let mut ps = vec![None; ds.len()];
        patches(&self.ops, &t.saved, &mut ps);
        let mut grads = Vec::with_capacity(ds.len());
        for (a, (d, p)) in self.affines().into_iter().zip(ds.iter().zip(&ps)) {
            let (Some(d), Some(p)) = (d, p) else {
                unreachable!("affine layer {} without a gradient", a.id)
            };
            let mut gw = zeros(a.w.nrows(), a.w.ncols(), "a weight gradient")?;
            gemm(&mut gw, d, false, p, true, a.w_mult, Par::Global);
            let gb = a.b.as_ref().map(|_| d.column_sum() * a.b_mult);
            grads.push((gw, gb));
        }
        for (a, (gw, gb)) in self.affines_mut().into_iter().zip(grads) {
            a.w.zip_apply(&gw, |w, g| *w -= lr * g);
            if let (Some(b), Some(gb)) = (a.b.as_mut(), gb) {
                b.axpy(-lr, &gb, 1.0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Kernel;
    use crate::finite::{FiniteNetwork, HiddenWidths};
    use crate::network::Network;
    use nalgebra::DMatrix;

    /// Small networks with every layer kind, smooth activations (central differences need φ'' to
    /// exist), both parameterizations, bias and none, k = 2 outputs.
    pub(crate) fn specs() -> Vec<(&'static str, usize)> {
        vec![
            (
                r#"{"input_shape": [4, 4, 2], "layers": [
                {"conv": {"w_std": 1.4, "b_std": 0.2, "filter_shape": [3, 3]}}, {"tanh": {}},
                {"conv": {"w_std": 1.3, "filter_shape": [2, 2], "strides": [2, 2], "padding": "valid"}},
                {"erf": {}},
                {"avg_pool": {"window": [2, 2], "strides": [1, 1], "padding": "same"}},
                {"flatten": {}}, {"dense": {"w_std": 1.2, "b_std": 0.1}}]}"#,
                4,
            ),
            (
                r#"{"input_shape": [4, 3, 2], "layers": [
                {"conv": {"w_std": 1.4, "b_std": 0.2, "filter_shape": [3, 3], "padding": "circular"}},
                {"layer_norm": {}},
                {"residual": {"layers": [{"gelu": {}},
                    {"conv": {"w_std": 1.1, "b_std": 0.1, "filter_shape": [3, 2]}}]}},
                {"dense": {"w_std": 1.3, "b_std": 0.3}}, {"tanh": {}},
                {"global_avg_pool": {}}, {"dense": {"w_std": 1.2}}]}"#,
                3,
            ),
            (
                r#"{"parameterization": "standard", "input_shape": [6, 2], "layers": [
                {"conv": {"w_std": 1.4, "b_std": 0.2, "channels": 3, "filter_shape": [3], "strides": [2]}},
                {"sin": {}},
                {"conv": {"w_std": 1.2, "channels": 3, "filter_shape": [2], "padding": "circular"}},
                {"residual": {"layers": [{"conv": {"w_std": 0.9, "b_std": 0.1, "channels": 3, "filter_shape": [3]}},
                    {"layer_norm": {}}]}},
                {"avg_pool": {"window": [2]}}, {"flatten": {}},
                {"dense": {"w_std": 1.1, "b_std": 0.1, "width": 1}}]}"#,
                3,
            ),
            (
                r#"{"layers": [{"dense": {"w_std": 1.5, "b_std": 0.1}}, {"layer_norm": {}},
                {"tanh": {}},
                {"residual": {"layers": [{"dense": {"w_std": 1.0}}, {"erf": {}},
                    {"dense": {"w_std": 0.8, "b_std": 0.2}}]}},
                {"dense": {"w_std": 1.2, "b_std": 0.1}}]}"#,
                5,
            ),
        ]
    }

    fn inputs(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
        // A fixed LCG: the values only need to be generic (no symmetry, no zero pixels).
        let mut s = seed;
        DMatrix::from_fn(n, d, |_, _| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
    }

    /// Every parameter gradient of every output at every input against central differences, and
    /// the empirical NTK against the sum of products of the differenced gradients.
    ///
    /// Central differences with step h = 1e-5 have truncation error h²|f'''|/6 ≈ 1e-11 and
    /// rounding error ε|f|/h ≈ 1e-11 relative to the O(1) outputs, so 1e-6 of the largest gradient
    /// entry is met with a margin of 10⁴ and fails for any wrong term (a missing 1/F, a wrong tap
    /// or a wrong layer-norm term change gradients by ≫ 1e-3).
    #[test]
    fn parameter_gradients_match_finite_differences() {
        for (k, (json, width)) in specs().into_iter().enumerate() {
            let spec = Network::from_json(json).unwrap();
            let d = spec.input_shape().map_or(4, |s| s.iter().product());
            let hidden = if spec.parameterization() == crate::Parameterization::Standard {
                HiddenWidths::FromSpec
            } else {
                HiddenWidths::Uniform(width)
            };
            let mut net = FiniteNetwork::builder(&spec, d)
                .hidden(hidden)
                .output_dim(2)
                .seed(k as u64)
                .build()
                .unwrap();
            let x = inputs(3, d, 7 + k as u64);
            let img = net.image.clone().unwrap();
            let t = img.trace(&x, crate::linalg::Par::Seq).unwrap();
            let kout = img.output_dim;
            // Analytic gradients: per output, per layer, #params × n.
            let grads: Vec<Vec<DMatrix<f64>>> = (0..kout)
                .map(|o| super::all_gradients(&img, &t, o, crate::linalg::Par::Seq).unwrap())
                .collect();
            let h = 1e-5;
            let mut ntk_fd = DMatrix::<f64>::zeros(3, 3);
            let scale = grads.iter().flatten().map(|g| g.amax()).fold(0.0, f64::max);
            for (l, layer) in img.affines().into_iter().enumerate() {
                let np = layer.n_parameters();
                for j in 0..np {
                    let mut eval = |delta: f64| {
                        let a = net.image.as_mut().unwrap().affines_mut().swap_remove(l);
                        let nw = a.w.len();
                        let p = if j < nw {
                            &mut a.w.as_mut_slice()[j]
                        } else {
                            &mut a.b.as_mut().unwrap()[j - nw]
                        };
                        *p += delta;
                        let f = net.forward(&x).unwrap();
                        let a = net.image.as_mut().unwrap().affines_mut().swap_remove(l);
                        let p = if j < nw {
                            &mut a.w.as_mut_slice()[j]
                        } else {
                            &mut a.b.as_mut().unwrap()[j - nw]
                        };
                        *p -= delta;
                        f
                    };
                    let fd = (eval(h) - eval(-h)) / (2.0 * h);
                    for o in 0..kout {
                        for e in 0..3 {
                            let g = grads[o][l][(j, e)];
                            assert!(
                                (fd[(e, o)] - g).abs() <= 1e-6 * scale,
                                "spec {k} layer {l} parameter {j} output {o} input {e}: \
                                 {g} vs FD {}",
                                fd[(e, o)]
                            );
                        }
                        for a in 0..3 {
                            for b in 0..3 {
                                ntk_fd[(a, b)] += fd[(a, o)] * fd[(b, o)] / kout as f64;
                            }
                        }
                    }
                }
            }
            let ntk = net.gram(&x).unwrap().ntk;
            let err = (&ntk - &ntk_fd).amax() / ntk.amax();
            assert!(err < 1e-6, "spec {k}: NTK vs FD {err:e}");
        }
    }
}
