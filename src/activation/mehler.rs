//! Quadrature duals by the Mehler (Hermite) series, from coefficients computed once per point.
//!
//! With u = √q1·z1, v = √q2·z2 and corr(z1, z2) = ρ = c/√(q1q2), Mehler's formula expands the dual
//! in the orthonormal (probabilists') Hermite polynomials ψₖ = Heₖ/√k! (O'Donnell, *Analysis of
//! Boolean Functions*, §11.2; Daniely, Frostig & Singer 2016, §4 for the dual activation):
//!
//! T = E[φ(u)φ(v)] = Σₖ aₖ(q1)aₖ(q2)ρᵏ,  aₖ(q) = E[φ(√q z)ψₖ(z)],
//! Ṫ = E[φ'(u)φ'(v)] = Σₖ bₖ(q1)bₖ(q2)ρᵏ,  bₖ(q) = E[φ'(√q z)ψₖ(z)].
//!
//! A point's table holds, for one activation layer, the masses m_a = E[φ(√q z)²] = T(q; q, q) and
//! m_b = E[φ'(√q z)²] = Ṫ(q; q, q), 1/√q, the first [`TERMS`] coefficients aₖ, bₖ, and after every
//! [`CHUNK`] of them the square roots of the tails t_K = m − Σ_{k≤K} cₖ² (Parseval), divided by
//! √m. By Cauchy–Schwarz the terms after K are bounded by
//!
//! |Σ_{k>K} aₖ(q1)aₖ(q2)ρᵏ| ≤ |ρ|^{K+1}·√(t_K(q1)·t_K(q2)),
//!
//! so an entry sums chunks of terms until this bound (for T and for Ṫ) is below [`SERIES_TOL`]
//! times the scale √(m(q1)m(q2)) (the largest |T| can be), and reports failure when [`TERMS`]
//! terms do not reach it (|ρ| near 1, or a large variance, where φ(√q z) is nearly a step and the
//! coefficients decay slowly): the caller then falls back to an exact 2-D rule.
//!
//! The coefficients come from a composite Gauss–Legendre rule on z ∈ [−Z, Z] (see [`SeriesRule`]),
//! with nodes in mirror pairs ±z so that one recurrence serves both (ψₖ(−z) = (−1)ᵏψₖ(z)).

use super::quadrature::gauss_legendre;
use multiversion::multiversion;

/// Number of Hermite coefficients kept per point and layer (k = 0..TERMS − 1).
pub(crate) const TERMS: usize = 64;

/// Terms summed between two checks of the truncation bound.
const CHUNK: usize = 8;

/// Values per chunk of a point's table: aₖ and bₖ for the chunk's [`CHUNK`] terms, then the
/// normalized tails √(t_K/m) of the two series after its last term K.
const STRIDE: usize = 2 * CHUNK + 2;

/// Values before the chunks: m_a, m_b, 1/√q (0 at q = 0), and one value of padding.
const HEADER: usize = 4;

/// Length of a point's table for one activation layer. Chunk-major, so that an entry, which
/// reads only the first few chunks of its two points, touches few cache lines: the Gram loops
/// stream the rows' tables from memory for every column.
pub(crate) const TABLE: usize = HEADER + (TERMS / CHUNK) * STRIDE;

/// The series is accepted when the Cauchy–Schwarz bound of its dropped terms is at most this
/// fraction of the scale √(m(q1)m(q2)). Three orders of magnitude above the coefficients' own
/// rounding (see [`TAIL_FLOOR`]), and four below the 1e-9 the kernels are held to, so that a few
/// layers' errors, each amplified by at most σ_w² per layer, stay far below it.
pub(crate) const SERIES_TOL: f64 = 1e-13;

/// A tail computed as m − Σcₖ² loses about k rounding errors of m; this multiple of ε·m is added
/// to every tail so that the bound stays an upper bound.
const TAIL_FLOOR: f64 = 2.0 * TERMS as f64 * f64::EPSILON;

/// Half-width of the z-interval of the coefficient rule: |ψₖ(z)|·N(z) ≤ C·e^{−z²/4} (Hermite
/// functions are bounded), so beyond Z = 12 an integrand of linear growth has relative mass of
/// order e^{−36} ≈ 2e-16.
const Z_MAX: f64 = 12.0;

/// Largest width of a panel in z (ψ₆₃ oscillates with wavelength ≈ 2π/√63 ≈ 0.8 in z).
const PANEL_WIDTH: f64 = 4.0;

/// Gauss–Legendre nodes per panel.
const PANEL_NODES: usize = 24;

/// Width in u = √q·z of the first panel at 0: the named activations change on |u| ≲ 1 (tanh's
/// poles at ±iπ/2), and panels grow geometrically (ratio 2) from it until [`PANEL_WIDTH`].
/// With [`PANEL_NODES`] and [`PANEL_WIDTH`] measured against a rule of 32 nodes on panels of
/// width 0.5 (first 0.5) on [0, 14]: every coefficient of tanh and softplus within 6.6e-15 of
/// the scale √m for q from 1e-4 to 1e5 (`tests::rule_converged`); 96 nodes at q = 2.
const FIRST_U: f64 = 3.0;

/// Smallest first panel, as a fraction of [`PANEL_WIDTH`]: at most 59 geometric panels, and the
/// part of the line below 2⁻⁵⁸·1.25 ≈ 4e-18 (reached only for q > 6e34) carries no weight.
const MIN_FIRST: f64 = 3.469_446_951_953_614e-18; // 2^-58

/// Most panels on [0, Z]: at most 60 geometric ones, 11 uniform ones, and one more per kink.
const MAX_PANELS: usize = 80 + super::MAX_KINKS;

/// The 1-D rule for a point's coefficients: Gauss–Legendre nodes of one panel, the panel layout,
/// and the recurrence factors of ψₖ.
#[derive(Clone, Debug)]
pub(crate) struct SeriesRule {
    x: Vec<f64>,
    w: Vec<f64>,
    width: f64,
    first_u: f64,
    z_max: f64,
    /// 1/√(k + 1): ψ_{k+1} = (z·ψₖ − √k·ψ_{k−1})/√(k + 1).
    inv: [f64; TERMS],
    /// √(k/(k + 1)).
    ratio: [f64; TERMS],
}

/// Nodes handled together by the coefficient loop: one panel's [`PANEL_NODES`] nodes. The
/// recurrence of ψₖ is a chain of dependent products per node, so the loop is bound by its latency
/// unless it runs several vectors of nodes at once (three AVX-512 or six AVX2 vectors here; 8
/// nodes took 2.5 times as long).
const BLOCK: usize = PANEL_NODES;

impl SeriesRule {
    /// The crate's rule: [`PANEL_NODES`] nodes per panel, panels of width ≤ [`PANEL_WIDTH`] on
    /// [0, [`Z_MAX`]], the first of width [`FIRST_U`] in u.
    pub(crate) fn new() -> Self {
        Self::with(PANEL_NODES, PANEL_WIDTH, FIRST_U, Z_MAX)
    }

    pub(crate) fn with(nodes: usize, width: f64, first_u: f64, z_max: f64) -> Self {
        let (x, w) = gauss_legendre(nodes);
        Self {
            x,
            w,
            width,
            first_u,
            z_max,
            inv: std::array::from_fn(|k| 1.0 / ((k + 1) as f64).sqrt()),
            ratio: std::array::from_fn(|k| (k as f64 / (k + 1) as f64).sqrt()),
        }
    }

    /// Calls `f(z, w·N(z))` for the nodes z > 0 of the rule on [0, Z] (N the standard normal
    /// density), for a variance with √q = `s` and kinks of φ at `kinks`. Panel ends: geometric from
    /// z = u₀/s with ratio 2 until the width reaches the largest width, uniform after that, and
    /// split at |κ|/s for every kink κ.
    pub(crate) fn for_each_node(&self, s: f64, kinks: &[f64], mut f: impl FnMut(f64, f64)) {
        let mut ends = [0.0; MAX_PANELS + 1];
        let mut m = 1;
        let mut z: f64 = 0.0;
        let first = if s > 0.0 {
            (self.first_u / s).max(MIN_FIRST * self.width)
        } else {
            self.width
        };
        while z < self.z_max && m < MAX_PANELS - super::MAX_KINKS {
            let step = z.max(first).min(self.width);
            z = (z + step).min(self.z_max);
            ends[m] = z;
            m += 1;
        }
        if s > 0.0 {
            for &k in kinks {
                let e = k.abs() / s;
                if e > 0.0 && e < self.z_max {
                    ends[m] = e;
                    m += 1;
                }
            }
        }
        let ends = &mut ends[..m];
        ends.sort_by(f64::total_cmp);
        let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        for p in ends.windows(2) {
            let (half, mid) = (0.5 * (p[1] - p[0]), 0.5 * (p[1] + p[0]));
            if half <= 0.0 {
                continue;
            }
            for (&t, &w) in self.x.iter().zip(&self.w) {
                let z = mid + half * t;
                f(z, w * half * norm * (-0.5 * z * z).exp());
            }
        }
    }

    /// Fills `out` (length [`TABLE`]) with the table of the variance q ≥ 0 (see the module docs).
    /// With `odd`, φ(−u) and φ'(−u) are taken as −φ(u) and φ'(u) instead of evaluated (the same
    /// bits for a φ that is odd in floating point).
    pub(crate) fn fill(
        &self,
        fd: &dyn Fn(f64) -> (f64, f64),
        kinks: &[f64],
        odd: bool,
        q: f64,
        out: &mut [f64],
    ) {
        let out = &mut out[..TABLE];
        out.fill(0.0);
        let s = q.sqrt();
        if s == 0.0 {
            // u ≡ 0: only the constant term, φ(0) (and φ'(0)).
            let (f0, d0) = fd(0.0);
            out[0] = f0 * f0;
            out[1] = d0 * d0;
            out[HEADER] = f0;
            out[HEADER + CHUNK] = d0;
        } else {
            // Per-node partial sums, reduced once at the end, so that the loop over a block of
            // nodes has no dependency between nodes (it vectorizes).
            let mut acc: Box<Sums> = Box::new([[[0.0; BLOCK]; TERMS]; 2]);
            let (mut ma, mut mb) = (0.0, 0.0);
            // Nodes z, weights of the even and odd parts of φ and φ'.
            let mut blk = [[0.0; BLOCK]; 5];
            let mut n = 0;
            let flush = |blk: &[[f64; BLOCK]; 5], acc: &mut Sums| accumulate(self, blk, acc);
            self.for_each_node(s, kinks, |z, w| {
                let (fp, dp) = fd(s * z);
                let (fm, dm) = if odd { (-fp, dp) } else { fd(-s * z) };
                ma += w * (fp * fp + fm * fm);
                mb += w * (dp * dp + dm * dm);
                blk[0][n] = z;
                blk[1][n] = w * (fp + fm);
                blk[2][n] = w * (fp - fm);
                blk[3][n] = w * (dp + dm);
                blk[4][n] = w * (dp - dm);
                n += 1;
                if n == BLOCK {
                    flush(&blk, &mut acc);
                    n = 0;
                }
            });
            if n > 0 {
                // Zero weights pad the last block.
                for row in blk.iter_mut().skip(1) {
                    row[n..].fill(0.0);
                }
                flush(&blk, &mut acc);
            }
            out[0] = ma;
            out[1] = mb;
            out[2] = 1.0 / s;
            for k in 0..TERMS {
                out[HEADER + (k / CHUNK) * STRIDE + k % CHUNK] = acc[0][k].iter().sum();
                out[HEADER + (k / CHUNK) * STRIDE + CHUNK + k % CHUNK] = acc[1][k].iter().sum();
            }
        }
        for series in 0..2 {
            let mass = out[series];
            let norm = if mass > 0.0 { 1.0 / mass.sqrt() } else { 0.0 };
            let mut sum = 0.0;
            for chunk in 0..TERMS / CHUNK {
                let at = HEADER + chunk * STRIDE;
                for j in 0..CHUNK {
                    let c = out[at + series * CHUNK + j];
                    sum += c * c;
                }
                let tail = (mass - sum).max(0.0) + TAIL_FLOOR * mass;
                out[at + 2 * CHUNK + series] = tail.sqrt() * norm;
            }
        }
    }

    /// Coefficient k of a table: (aₖ, bₖ).
    #[cfg(test)]
    pub(crate) fn coefficient(table: &[f64], k: usize) -> (f64, f64) {
        let at = HEADER + (k / CHUNK) * STRIDE + k % CHUNK;
        (table[at], table[at + CHUNK])
    }
}

/// Per-node partial sums of aₖ and bₖ.
type Sums = [[[f64; BLOCK]; TERMS]; 2];

/// Adds a block of nodes' terms to the partial sums: `blk` holds the nodes z and the weighted even
/// and odd parts of φ and φ' (w·(φ(√q z) ± φ(−√q z)), the same for φ'). Compiled for AVX2 where
/// the CPU has it, and for AVX-512 (chosen at run time; no fused operations, so the same results).
#[multiversion(targets("x86_64+avx512f+avx2", "x86_64+avx2"))]
fn accumulate(rule: &SeriesRule, blk: &[[f64; BLOCK]; 5], acc: &mut Sums) {
    let [z, fe, fo, de, dd] = blk;
    let mut p0 = [1.0; BLOCK];
    let mut p1 = *z;
    for i in 0..BLOCK {
        acc[0][0][i] += fe[i];
        acc[1][0][i] += de[i];
        acc[0][1][i] += fo[i] * z[i];
        acc[1][1][i] += dd[i] * z[i];
    }
    let mut k = 1;
    while k + 2 < TERMS {
        let (i1, r1, i2, r2) = (
            rule.inv[k],
            rule.ratio[k],
            rule.inv[k + 1],
            rule.ratio[k + 1],
        );
        for i in 0..BLOCK {
            // ψ_{k+1} (even) takes the even part of φ(√q z), ψ_{k+2} (odd) the odd part.
            let e = z[i] * p1[i] * i1 - r1 * p0[i];
            let o = z[i] * e * i2 - r2 * p1[i];
            acc[0][k + 1][i] += fe[i] * e;
            acc[1][k + 1][i] += de[i] * e;
            acc[0][k + 2][i] += fo[i] * o;
            acc[1][k + 2][i] += dd[i] * o;
            p0[i] = e;
            p1[i] = o;
        }
        k += 2;
    }
}

/// (T, Ṫ) from two points' tables by the truncated series, or `None` when [`TERMS`] terms do not
/// bring the truncation bound below [`SERIES_TOL`] (or |ρ| ≥ 1, or ρ is not a number): [`entries`]
/// with one lane, so that a single entry and the kernels' lanes get the same bits.
#[inline(always)]
pub(crate) fn entry(c: f64, t1: &[f64], t2: &[f64]) -> Option<(f64, f64)> {
    let t1 = &t1[..TABLE];
    let (a, b, ok) = entries::<1>(&[c], [false], |v| [t1[v]], t2);
    ok[0].then_some((a[0], b[0]))
}

/// The series for `L` entries (lanes) at once against one column point: lane l pairs the row
/// point whose table value v is `row(v)[l]` with the column point of table `t2`, at covariance
/// `c[l]`. Returns the sums (T, Ṫ) per lane and whether each lane's series met the tolerance;
/// lanes in `skip` (and lanes with |ρ| ≥ 1 or ρ not a number, which get ρ = 0 in the loop) are
/// not accumulated and report failure, their sums meaningless.
///
/// Every lane performs exactly the operations of a single entry in the same order: the powers
/// ρʲ by successive products, each chunk's terms (row·column)·ρʲ added by a fixed pairwise tree
/// ((p₀ + p₄) + (p₂ + p₆)) + ((p₁ + p₅) + (p₃ + p₇)), the chunk added as ρ^{k0}·chunk, the lead
/// power updated by one product per chunk, and the bound (|ρ^{K+1}|·row tail)·column tail. A lane
/// stops accumulating (its sums are selected, not added to) at the first chunk whose bound meets
/// the tolerance, and the loop ends when every lane has stopped or after [`TERMS`] terms. So the
/// value of an entry does not depend on its lane or on the other lanes.
#[inline(always)]
pub(crate) fn entries<const L: usize>(
    c: &[f64; L],
    skip: [bool; L],
    row: impl Fn(usize) -> [f64; L],
    t2: &[f64],
) -> ([f64; L], [f64; L], [bool; L]) {
    let t2 = &t2[..TABLE];
    let inv = row(2);
    let mut rho = [0.0; L];
    // Lanes that have stopped (met the bound, skipped, or without a convergent series).
    let mut done = [false; L];
    for l in 0..L {
        let r = c[l] * inv[l] * t2[2];
        // |ρ| ≥ 1 or NaN: no convergent series.
        let live = !skip[l] && r.abs() < 1.0;
        done[l] = !live;
        rho[l] = if live { r } else { 0.0 };
    }
    let mut ok = [false; L];
    let mut pw = [[1.0; L]; CHUNK];
    for j in 1..CHUNK {
        for l in 0..L {
            pw[j][l] = pw[j - 1][l] * rho[l];
        }
    }
    let step: [f64; L] = std::array::from_fn(|l| pw[CHUNK - 1][l] * rho[l]);
    // ρ^{k0} at the start of each chunk.
    let mut lead = [1.0; L];
    let (mut sa, mut sb) = ([0.0; L], [0.0; L]);
    for chunk in 0..TERMS / CHUNK {
        let at = HEADER + chunk * STRIDE;
        let c2 = &t2[at..at + STRIDE];
        // Each chunk's terms added by a fixed pairwise tree (not one running sum), so the products
        // and the additions vectorize and the chunks' dependency chains stay short.
        let (mut pa, mut pb) = ([[0.0; L]; CHUNK], [[0.0; L]; CHUNK]);
        for j in 0..CHUNK {
            let (ra, rb) = (row(at + j), row(at + CHUNK + j));
            for l in 0..L {
                pa[j][l] = ra[l] * c2[j] * pw[j][l];
                pb[j][l] = rb[l] * c2[CHUNK + j] * pw[j][l];
            }
        }
        let mut w = CHUNK;
        while w > 1 {
            w /= 2;
            for j in 0..w {
                for l in 0..L {
                    pa[j][l] += pa[j + w][l];
                    pb[j][l] += pb[j + w][l];
                }
            }
        }
        let (ta, tb) = (row(at + 2 * CHUNK), row(at + 2 * CHUNK + 1));
        for l in 0..L {
            let (na, nb) = (sa[l] + lead[l] * pa[0][l], sb[l] + lead[l] * pb[0][l]);
            sa[l] = if done[l] { sa[l] } else { na };
            sb[l] = if done[l] { sb[l] } else { nb };
            lead[l] *= step[l];
            // |ρ|^{K+1}·√(t_K(q1)t_K(q2)) against the tolerance times √(m(q1)m(q2)), with the
            // tails stored divided by √m.
            let r = lead[l].abs();
            // `&`, not `&&`: no branch per lane.
            let met = (r * ta[l] * c2[2 * CHUNK] <= SERIES_TOL)
                & (r * tb[l] * c2[2 * CHUNK + 1] <= SERIES_TOL);
            ok[l] |= met & !done[l];
            done[l] |= met;
        }
        if done.iter().all(|&d| d) {
            break;
        }
    }
    (sa, sb, ok)
}

/// (T(q; q, q), Ṫ(q; q, q)) = (m_a, m_b) from a point's table.
#[inline]
pub(crate) fn diagonal(t: &[f64]) -> (f64, f64) {
    (t[0], t[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Activation, Dual, QuadratureDual};
    use std::sync::Arc;

    fn quad(a: &Activation, nodes: usize) -> QuadratureDual {
        match a.dual_with_nodes(nodes).unwrap() {
            Dual::Quadrature(d) => d,
            _ => unreachable!(),
        }
    }

    fn table(d: &QuadratureDual, q: f64) -> Vec<f64> {
        let mut t = vec![0.0; TABLE];
        d.fill_table(q, &mut t);
        t
    }

    /// x ↦ tanh(x) + 0.1x as a custom closure, with `nodes` nodes (tensor Gauss–Hermite, or the
    /// polar rule).
    fn custom(nodes: usize, polar: bool) -> QuadratureDual {
        let f = Arc::new(|x: f64| x.tanh() + 0.1 * x);
        let df = Arc::new(|x: f64| 1.0 - x.tanh().powi(2) + 0.1);
        if polar {
            QuadratureDual::polar("tanh + 0.1x", f, df, None, nodes).unwrap()
        } else {
            QuadratureDual::new("tanh + 0.1x", f, df, None, nodes).unwrap()
        }
    }

    /// The coefficient rule against a much finer one (32 nodes on panels of width 0.5 from
    /// u = 0.5, on [0, 14]): measured 6.6e-15 of √m; 1e-13 leaves room for other platforms' libm.
    #[test]
    fn rule_converged() {
        let reference = SeriesRule::with(32, 0.5, 0.5, 14.0);
        let rule = SeriesRule::new();
        for act in [Activation::Tanh, Activation::Softplus] {
            let d = quad(&act, 32);
            let fd = |x: f64| d.eval_with_derivative(x);
            for q in [1e-4, 0.01, 0.5, 1.0, 2.26, 5.0, 30.0, 1e3, 1e5] {
                let (mut t, mut u) = (vec![0.0; TABLE], vec![0.0; TABLE]);
                rule.fill(&fd, &[], false, q, &mut t);
                reference.fill(&fd, &[], false, q, &mut u);
                assert!((t[0] - u[0]).abs() <= 1e-13 * u[0], "{act:?} q={q}");
                assert!((t[1] - u[1]).abs() <= 1e-13 * u[1], "{act:?} q={q}");
                for k in 0..TERMS {
                    let ((a, b), (ra, rb)) = (
                        SeriesRule::coefficient(&t, k),
                        SeriesRule::coefficient(&u, k),
                    );
                    assert!((a - ra).abs() <= 1e-13 * u[0].sqrt(), "{act:?} q={q} a_{k}");
                    assert!((b - rb).abs() <= 1e-13 * u[1].sqrt(), "{act:?} q={q} b_{k}");
                }
            }
        }
    }

    /// Tanh and hard tanh are odd bit for bit: their tables taking φ(−u) = −φ(u) equal those
    /// evaluating both, bit for bit (the kinks of hard tanh included).
    #[test]
    fn odd_tables_are_the_evaluated_tables() {
        let rule = SeriesRule::new();
        for (act, kinks) in [
            (Activation::Tanh, vec![]),
            (Activation::HardTanh, vec![-1.0, 1.0]),
        ] {
            let d = quad(&act, 32);
            let fd = |x: f64| d.eval_with_derivative(x);
            for q in [0.0, 1e-3, 0.7, 2.26, 40.0, 1e4] {
                let (mut t, mut u) = (vec![0.0; TABLE], vec![0.0; TABLE]);
                rule.fill(&fd, &kinks, true, q, &mut t);
                rule.fill(&fd, &kinks, false, q, &mut u);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&t), bits(&u), "{act:?} q={q}");
            }
        }
    }

    /// Stein's identity bₖ = √(k+1)·a_{k+1}/√q ties the two coefficient sets together: an
    /// independent check of the φ' coefficients.
    #[test]
    fn stein_identity() {
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Silu] {
            let d = quad(&act, 32);
            for q in [0.3, 2.0, 40.0] {
                let t = table(&d, q);
                for k in 0..TERMS - 1 {
                    let b = SeriesRule::coefficient(&t, k).1;
                    let a = SeriesRule::coefficient(&t, k + 1).0;
                    let stein = ((k + 1) as f64).sqrt() * a / q.sqrt();
                    assert!(
                        (b - stein).abs() <= 1e-12 * t[1].sqrt(),
                        "{act:?} q={q} k={k}"
                    );
                }
            }
        }
    }

    /// The series (where it is accepted) and the exact 96-node rule against the 160-node polar
    /// rule, over variances from 1e-2 to 1e3 and ρ from −0.999 to 1 − 1e-6, relative to the scale
    /// √(m(q1)m(q2)). Measured: series ≤ 6.9e-14, exact rule ≤ 1.6e-14; the series' own bound is
    /// 1e-13, so 1e-12 is the limit. The series must decline at large q and |ρ| near 1.
    #[test]
    fn series_matches_exact_rules() {
        let named = [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Softplus,
            Activation::Silu,
        ];
        let mut duals: Vec<(QuadratureDual, QuadratureDual)> =
            named.iter().map(|a| (quad(a, 32), quad(a, 160))).collect();
        duals.push((custom(32, false), custom(160, true)));
        let (mut worst_series, mut worst_exact) = (0.0f64, 0.0f64);
        for (d, fine) in &duals {
            let mut used = 0;
            for &(q1, q2) in &[
                (0.01, 0.02),
                (1.0, 1.0),
                (2.26, 1.7),
                (10.0, 30.0),
                (1e3, 1e3),
            ] {
                let (t1, t2) = (table(d, q1), table(d, q2));
                let (sa, sb) = ((t1[0] * t2[0]).sqrt(), (t1[1] * t2[1]).sqrt());
                for &rho in &[-0.999, -0.5, -0.1, 0.0, 0.3, 0.7, 0.9, 1.0 - 1e-6] {
                    let c = rho * (q1 * q2).sqrt();
                    let name = d.name();
                    let fi = fine.exact::<f64>(c, q1, q2);
                    let ex = d.exact::<f64>(c, q1, q2);
                    worst_exact = worst_exact
                        .max((ex.0 - fi.0).abs() / sa)
                        .max((ex.1 - fi.1).abs() / sb);
                    assert!((ex.0 - fi.0).abs() <= 1e-12 * sa, "{name} {q1} {q2} {rho}");
                    assert!((ex.1 - fi.1).abs() <= 1e-12 * sb, "{name} {q1} {q2} {rho}");
                    let series = entry(c, &t1, &t2);
                    if rho >= 0.9 && q1 >= 1e3 {
                        // φ(√q z) is nearly a step: the coefficients decay like k^(−3/4).
                        assert!(series.is_none(), "{name} {q1} {rho}: the bound cannot hold");
                    }
                    if let Some(s) = series {
                        used += 1;
                        worst_series = worst_series
                            .max((s.0 - fi.0).abs() / sa)
                            .max((s.1 - fi.1).abs() / sb);
                        assert!((s.0 - fi.0).abs() <= 1e-12 * sa, "{name} {q1} {q2} {rho}");
                        assert!((s.1 - fi.1).abs() <= 1e-12 * sb, "{name} {q1} {q2} {rho}");
                    }
                    // What the kernels use: the series or the fallback.
                    let k = d.dual_from_tables(c, q1, q2, &t1, &t2);
                    assert!((k.0 - fi.0).abs() <= 1e-12 * sa && (k.1 - fi.1).abs() <= 1e-12 * sb);
                }
            }
            assert!(used >= 20, "{}: the series served {used} of 40", d.name());
        }
        eprintln!("series {worst_series:.1e}, exact rule {worst_exact:.1e} against the fine rule");
    }

    /// Ṫ = ∂T/∂c (Price's theorem): the series' Ṫ against a central difference of its T with
    /// h = 1e-4·√(q1q2); truncation O(h²) ≈ 1e-8 and rounding 1e-13/1e-4 = 1e-9 of the scale.
    #[test]
    fn dot_is_derivative_of_series() {
        let d = quad(&Activation::Tanh, 32);
        for &(q1, q2) in &[(0.5, 0.7), (2.26, 1.7), (20.0, 9.0)] {
            let (t1, t2) = (table(&d, q1), table(&d, q2));
            let s = (q1 * q2).sqrt();
            let h = 1e-4 * s;
            for rho in [-0.4, 0.0, 0.3, 0.6] {
                let c = rho * s;
                let (Some(p), Some(m), Some(mid)) = (
                    entry(c + h, &t1, &t2),
                    entry(c - h, &t1, &t2),
                    entry(c, &t1, &t2),
                ) else {
                    panic!("series declined at q=({q1},{q2}) rho={rho}");
                };
                let fd = (p.0 - m.0) / (2.0 * h);
                let scale = (t1[1] * t2[1]).sqrt();
                assert!((fd - mid.1).abs() <= 1e-7 * scale, "{q1} {rho}");
            }
        }
    }

    /// A zero variance (a zero input without bias): u ≡ 0, so T = φ(0)·E[φ(v)] and
    /// Ṫ = φ'(0)·E[φ'(v)], exactly the k = 0 terms.
    #[test]
    fn zero_variance() {
        let d = quad(&Activation::Sigmoid, 32);
        let (t0, t2) = (table(&d, 0.0), table(&d, 3.0));
        let (t, dot) = d.dual_from_tables(0.0, 0.0, 3.0, &t0, &t2);
        let exact = quad(&Activation::Sigmoid, 256).exact::<f64>(0.0, 0.0, 3.0);
        assert!((t - exact.0).abs() < 1e-13 && (dot - exact.1).abs() < 1e-13);
        assert!((t - 0.5 * SeriesRule::coefficient(&t2, 0).0).abs() < 1e-15);
    }
}
