//! Fixed linear maps of the pixels along one spatial axis — nearest-neighbour and bilinear
//! upsampling (Radhakrishnan 2023, App. K) — and their action on full pixel-pair states.
//!
//! A layer y = A·x with a fixed matrix A over pixels has no parameters, so it maps the kernel
//! state of its input as Σ′ = A·Σ·Aᵀ and Θ′ = A·Θ·Aᵀ (App. K's proposition, K = A·K_f·Aᵀ). A is
//! separable over the axes and sparse (one or two input positions per output position), so each
//! axis is applied to the rows of the state, then to its columns. Pixels are indexed as in
//! `window.rs`: along an axis, a pixel index splits as (outer, position, inner).

use super::Interpolation;

/// Upsampling along one axis: output position i is Σ_k w·x(k) over `weights[i]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AxisResample {
    n_in: usize,
    n_out: usize,
    outer: usize,
    inner: usize,
    weights: Vec<Vec<(usize, f64)>>,
}

impl AxisResample {
    /// Upsampling of an axis of `n_in` positions by `factor` (≥ 1), with `outer` and `inner`
    /// pixels per position of the axes before and after it.
    pub(crate) fn upsample(
        n_in: usize,
        factor: usize,
        method: Interpolation,
        outer: usize,
        inner: usize,
    ) -> AxisResample {
        let n_out = n_in * factor;
        let weights = (0..n_out)
            .map(|i| match method {
                Interpolation::Nearest => vec![(i / factor, 1.0)],
                Interpolation::Bilinear => {
                    // Aligned corners: output 0 and n_out − 1 sit on input 0 and n_in − 1.
                    if n_out == 1 || n_in == 1 {
                        return vec![(0, 1.0)];
                    }
                    let x = i as f64 * (n_in - 1) as f64 / (n_out - 1) as f64;
                    let r = (x.floor() as usize).min(n_in - 2);
                    let t = x - r as f64;
                    vec![(r, 1.0 - t), (r + 1, t)]
                }
            })
            .collect();
        AxisResample {
            n_in,
            n_out,
            outer,
            inner,
            weights,
        }
    }

    /// Pixels before and after.
    pub(crate) fn pixels(&self) -> (usize, usize) {
        let o = self.outer * self.inner;
        (o * self.n_in, o * self.n_out)
    }

    /// The input pixel of output pixel `a` with the axis position replaced by `k`, and the
    /// output position.
    #[inline(always)]
    fn split(&self, a: usize) -> (usize, usize, usize) {
        let (o, rest) = (a / (self.n_out * self.inner), a % (self.n_out * self.inner));
        (o, rest / self.inner, rest % self.inner)
    }

    /// A·S·Aᵀ of a full state `src` (P × P, row-major): rows into `tmp` (P′ × P), then columns
    /// into `dst` (P′ × P′).
    pub(crate) fn map_full(&self, src: &[f64], tmp: &mut [f64], dst: &mut [f64]) {
        let (pi, po) = self.pixels();
        let input = |o: usize, k: usize, r: usize| (o * self.n_in + k) * self.inner + r;
        for a in 0..po {
            let (o, i, r) = self.split(a);
            let row = &mut tmp[a * pi..(a + 1) * pi];
            row.fill(0.0);
            for &(k, w) in &self.weights[i] {
                let from = &src[input(o, k, r) * pi..(input(o, k, r) + 1) * pi];
                for (t, s) in row.iter_mut().zip(from) {
                    *t += w * s;
                }
            }
        }
        for a in 0..po {
            let row = &tmp[a * pi..(a + 1) * pi];
            for b in 0..po {
                let (o, i, r) = self.split(b);
                dst[a * po + b] = self.weights[i]
                    .iter()
                    .map(|&(k, w)| w * row[input(o, k, r)])
                    .sum();
            }
        }
    }
}
