//! Windows along one spatial axis (convolution and pooling), and the maps they induce on the
//! covariances of pixel pairs.
//!
//! A state over pixels is either *full*, the P × P' matrix of covariances between pixel p of the
//! first input and pixel p' of the second (row-major, p the row), or *diagonal*, the P covariances of
//! the same pixel in both. Pixels are indexed channels-last and row-major over the spatial axes, so
//! along axis k a pixel index splits as (outer, position, inner).
//!
//! * A convolution shares its weights across positions, so both sides move by the **same** tap δ:
//!   Σ'(i, i') = (1/f) Σ_δ Σ(j(i, δ), j(i', δ)). It maps diagonal states to diagonal states.
//! * Pooling averages each side over its own window, with **independent** taps:
//!   Σ'(i, i') = (1/f²) Σ_{δ, δ'} Σ(j(i, δ), j(i', δ')). It needs the full state.
//!
//! where j(i, δ) = s·i + δ − pad is the input position of tap δ (wrapped for circular padding; a tap
//! in the zero padding contributes 0, and the mean still divides by f, as in neural-tangents).

use super::Padding;

/// Output positions i0..i0 + len whose tap reads input positions j0, j0 + s, j0 + 2s, …
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    i0: usize,
    j0: usize,
    len: usize,
}

/// A window of `size` taps with a stride, along one axis of `n_in` positions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    pub(crate) n_in: usize,
    pub(crate) n_out: usize,
    size: usize,
    stride: usize,
    pad_before: usize,
    circular: bool,
    /// For each tap, the output positions whose input position is inside (or wrapped into) the
    /// input, as maximal runs.
    runs: Vec<Vec<Run>>,
}

impl Window {
    /// The window of `size` taps and stride `stride` over `n_in` positions, or why there is none.
    pub(crate) fn new(
        n_in: usize,
        size: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Window, String> {
        if size == 0 || stride == 0 {
            return Err("window sizes and strides must be at least 1".into());
        }
        let (n_out, pad_before) = match padding {
            Padding::Valid => {
                if size > n_in {
                    return Err(format!(
                        "the window ({size}) is larger than the input ({n_in}) with valid \
                         padding: use a smaller window or \"same\" padding"
                    ));
                }
                ((n_in - size) / stride + 1, 0)
            }
            Padding::Same | Padding::Circular => {
                // TensorFlow's rule, as in neural-tangents: ⌈n/s⌉ outputs; the total padding is
                // split with the smaller half before.
                let n_out = n_in.div_ceil(stride);
                let total = ((n_out - 1) * stride + size).saturating_sub(n_in);
                (n_out, total / 2)
            }
        };
        let runs = (0..size)
            .map(|a| {
                let mut runs: Vec<Run> = Vec::new();
                for i in 0..n_out {
                    let raw = (i * stride + a) as isize - pad_before as isize;
                    let j = match padding {
                        Padding::Circular => raw.rem_euclid(n_in as isize) as usize,
                        _ if raw < 0 || raw >= n_in as isize => continue,
                        _ => raw as usize,
                    };
                    match runs.last_mut() {
                        Some(r) if r.i0 + r.len == i && r.j0 + r.len * stride == j => r.len += 1,
                        _ => runs.push(Run {
                            i0: i,
                            j0: j,
                            len: 1,
                        }),
                    }
                }
                runs
            })
            .collect();
        Ok(Window {
            n_in,
            n_out,
            size,
            stride,
            pad_before,
            circular: padding == Padding::Circular,
            runs,
        })
    }

    /// The input position j(i, δ) read by tap δ of output i, at index i·f + δ (`None`: the zero
    /// padding): the same taps as the kernel maps, for finite networks.
    pub(crate) fn taps(&self) -> Vec<Option<usize>> {
        let mut out = vec![None; self.n_out * self.size];
        for (a, runs) in self.runs.iter().enumerate() {
            for r in runs {
                for t in 0..r.len {
                    out[(r.i0 + t) * self.size + a] = Some(r.j0 + t * self.stride);
                }
            }
        }
        out
    }
}

/// `len` blocks of `inner` values: block t of `dst` gets block t·`stride` of `src` added.
#[inline(always)]
fn add_blocks(dst: &mut [f64], src: &[f64], len: usize, inner: usize, stride: usize) {
    if stride == 1 {
        let m = len * inner;
        for (d, s) in dst[..m].iter_mut().zip(&src[..m]) {
            *d += s;
        }
    } else {
        for t in 0..len {
            let (d, s) = (&mut dst[t * inner..], &src[t * stride * inner..]);
            for e in 0..inner {
                d[e] += s[e];
            }
        }
    }
}

/// One window along one axis of a state: the sizes around the axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AxisOp {
    pub(crate) window: Window,
    /// Pixels per position of the axes before and after this one.
    pub(crate) outer: usize,
    pub(crate) inner: usize,
    /// For a stride-1 zero-padded window that keeps the axis' length (the usual "same"
    /// convolution): per tap, which pixels of a row have their tap inside the input (1) or in the
    /// padding (0). A tap is then one shift of the whole row, which vectorizes, instead of a short
    /// run per block of the row.
    masks: Option<Vec<Vec<f64>>>,
}

impl AxisOp {
    pub(crate) fn new(window: Window, outer: usize, inner: usize) -> AxisOp {
        let uniform = window.stride == 1 && window.n_out == window.n_in && !window.circular;
        let masks = uniform.then(|| {
            let n = window.n_in;
            (0..window.size)
                .map(|a| {
                    (0..outer * n * inner)
                        .map(|q| {
                            let j = ((q / inner) % n + a) as isize - window.pad_before as isize;
                            if (0..n as isize).contains(&j) {
                                1.0
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect()
        });
        AxisOp {
            window,
            outer,
            inner,
            masks,
        }
    }

    /// Pixels before and after the map.
    pub(crate) fn pixels(&self) -> (usize, usize) {
        let w = &self.window;
        (
            self.outer * w.n_in * self.inner,
            self.outer * w.n_out * self.inner,
        )
    }

    /// The convolution map of a diagonal state: dst(i) = (1/f) Σ_δ src(j(i, δ)).
    pub(crate) fn conv_diagonal(&self, src: &[f64], dst: &mut [f64]) {
        let w = &self.window;
        let (n_in, n_out, inner) = (w.n_in, w.n_out, self.inner);
        let (_, p_out) = self.pixels();
        dst[..p_out].fill(0.0);
        for runs in &w.runs {
            for r in runs {
                for o in 0..self.outer {
                    add_blocks(
                        &mut dst[(o * n_out + r.i0) * inner..],
                        &src[(o * n_in + r.j0) * inner..],
                        r.len,
                        inner,
                        w.stride,
                    );
                }
            }
        }
        scale(&mut dst[..p_out], 1.0 / w.size as f64);
    }

    /// The convolution map of a full state: dst(i, i') = (1/f) Σ_δ src(j(i, δ), j(i', δ)).
    pub(crate) fn conv_full(&self, src: &[f64], dst: &mut [f64]) {
        if let Some(masks) = &self.masks {
            return self.conv_full_shifts(masks, src, dst);
        }
        let w = &self.window;
        let (n_in, n_out, inner, outer) = (w.n_in, w.n_out, self.inner, self.outer);
        let (p_in, p_out) = self.pixels();
        dst[..p_out * p_out].fill(0.0);
        for runs in &w.runs {
            for r1 in runs {
                for t1 in 0..r1.len {
                    let (i, j) = (r1.i0 + t1, r1.j0 + t1 * w.stride);
                    for o in 0..outer {
                        for e in 0..inner {
                            let row_out = (o * n_out + i) * inner + e;
                            let row_in = (o * n_in + j) * inner + e;
                            let d = &mut dst[row_out * p_out..(row_out + 1) * p_out];
                            let s = &src[row_in * p_in..(row_in + 1) * p_in];
                            for r2 in runs {
                                for o2 in 0..outer {
                                    add_blocks(
                                        &mut d[(o2 * n_out + r2.i0) * inner..],
                                        &s[(o2 * n_in + r2.j0) * inner..],
                                        r2.len,
                                        inner,
                                        w.stride,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        scale(&mut dst[..p_out * p_out], 1.0 / w.size as f64);
    }

    /// [`AxisOp::conv_full`] for a stride-1 window that keeps the length: tap δ adds row j(i, δ) of
    /// `src`, shifted by (δ − pad)·inner and masked, to row i of `dst`.
    fn conv_full_shifts(&self, masks: &[Vec<f64>], src: &[f64], dst: &mut [f64]) {
        let w = &self.window;
        let (n, inner) = (w.n_in, self.inner);
        let p = self.outer * n * inner;
        dst[..p * p].fill(0.0);
        for (a, mask) in masks.iter().enumerate() {
            let off = a as isize - w.pad_before as isize;
            let shift = off * inner as isize;
            let (q0, q1) = (
                (-shift).max(0) as usize,
                (p as isize - shift).min(p as isize) as usize,
            );
            for row in 0..p {
                if mask[row] == 0.0 {
                    continue;
                }
                let from = (row as isize + shift) as usize;
                let d = &mut dst[row * p..(row + 1) * p];
                let s = &src[from * p..(from + 1) * p];
                let s = &s[(q0 as isize + shift) as usize..(q1 as isize + shift) as usize];
                for ((d, &m), &v) in d[q0..q1].iter_mut().zip(&mask[q0..q1]).zip(s) {
                    *d += m * v;
                }
            }
        }
        scale(&mut dst[..p * p], 1.0 / w.size as f64);
    }

    /// The pooling map of a full state: dst(i, i') = (1/f²) Σ_{δ, δ'} src(j(i, δ), j(i', δ')),
    /// one side at a time through `tmp` (p_out × p_in values).
    pub(crate) fn pool_full(&self, src: &[f64], tmp: &mut [f64], dst: &mut [f64]) {
        let w = &self.window;
        let (n_in, n_out, inner, outer) = (w.n_in, w.n_out, self.inner, self.outer);
        let (p_in, p_out) = self.pixels();
        // Rows (the first input's pixels): whole rows of p_in values are summed.
        tmp[..p_out * p_in].fill(0.0);
        for runs in &w.runs {
            for r in runs {
                for o in 0..outer {
                    add_blocks(
                        &mut tmp[(o * n_out + r.i0) * inner * p_in..],
                        &src[(o * n_in + r.j0) * inner * p_in..],
                        r.len,
                        inner * p_in,
                        w.stride,
                    );
                }
            }
        }
        // Columns: the diagonal map applied to each row.
        for (row_out, row_tmp) in dst[..p_out * p_out]
            .chunks_exact_mut(p_out)
            .zip(tmp[..p_out * p_in].chunks_exact(p_in))
        {
            row_out.fill(0.0);
            for runs in &w.runs {
                for r in runs {
                    for o in 0..outer {
                        add_blocks(
                            &mut row_out[(o * n_out + r.i0) * inner..],
                            &row_tmp[(o * n_in + r.j0) * inner..],
                            r.len,
                            inner,
                            w.stride,
                        );
                    }
                }
            }
        }
        let f = w.size as f64;
        scale(&mut dst[..p_out * p_out], 1.0 / (f * f));
    }
}

fn scale(v: &mut [f64], s: f64) {
    for x in v {
        *x *= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input position of tap `a` at output `i`, from the definition (None: zero padding).
    fn tap(w: &Window, pad_before: isize, circular: bool, i: usize, a: usize) -> Option<usize> {
        let raw = (i * w.stride + a) as isize - pad_before;
        if circular {
            Some(raw.rem_euclid(w.n_in as isize) as usize)
        } else if raw < 0 || raw >= w.n_in as isize {
            None
        } else {
            Some(raw as usize)
        }
    }

    /// The runs list every (output, tap) pair exactly once, at the position the definition gives,
    /// for TensorFlow's "same" split (pad_before = ⌊total/2⌋).
    #[test]
    fn runs_match_the_definition() {
        for n in 1..9 {
            for f in 1..6 {
                for s in 1..4 {
                    for pad in [Padding::Same, Padding::Valid, Padding::Circular] {
                        let Ok(w) = Window::new(n, f, s, pad) else {
                            assert!(pad == Padding::Valid && f > n);
                            continue;
                        };
                        let pb = match pad {
                            Padding::Valid => 0,
                            _ => (((w.n_out - 1) * s + f).saturating_sub(n) / 2) as isize,
                        };
                        for a in 0..f {
                            let mut listed = vec![None; w.n_out];
                            for r in &w.runs[a] {
                                for t in 0..r.len {
                                    assert!(listed[r.i0 + t].is_none());
                                    listed[r.i0 + t] = Some(r.j0 + t * s);
                                }
                            }
                            for (i, got) in listed.iter().enumerate() {
                                assert_eq!(*got, tap(&w, pb, pad == Padding::Circular, i, a));
                                assert_eq!(w.taps()[i * f + a], *got);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The full maps against their definitions on a random 2-axis state, and the diagonal map
    /// against the full one's diagonal.
    #[test]
    fn maps_match_their_definitions() {
        let (n, inner) = (5, 3);
        let p = n * inner;
        let src: Vec<f64> = (0..p * p)
            .map(|k| ((k * 7919) % 101) as f64 / 7.0)
            .collect();
        for pad in [Padding::Same, Padding::Valid, Padding::Circular] {
            for (f, s) in [(3, 1), (2, 2), (3, 2)] {
                let w = Window::new(n, f, s, pad).unwrap();
                let pb = match pad {
                    Padding::Valid => 0,
                    _ => (((w.n_out - 1) * s + f).saturating_sub(n) / 2) as isize,
                };
                let circ = pad == Padding::Circular;
                let op = AxisOp::new(w.clone(), 1, inner);
                let q = w.n_out * inner;
                let mut conv = vec![0.0; q * q];
                op.conv_full(&src, &mut conv);
                let mut pool = vec![0.0; q * q];
                let mut tmp = vec![0.0; q * p];
                op.pool_full(&src, &mut tmp, &mut pool);
                let diag_src: Vec<f64> = (0..p).map(|k| src[k * p + k]).collect();
                let mut diag = vec![0.0; q];
                op.conv_diagonal(&diag_src, &mut diag);
                let at = |i: usize, e: usize| i * inner + e;
                for (i, e, i2, e2) in (0..w.n_out).flat_map(|i| {
                    (0..inner).flat_map(move |e| {
                        (0..w.n_out).flat_map(move |i2| (0..inner).map(move |e2| (i, e, i2, e2)))
                    })
                }) {
                    let (mut c, mut pl) = (0.0, 0.0);
                    for a in 0..f {
                        if let (Some(j), Some(j2)) =
                            (tap(&w, pb, circ, i, a), tap(&w, pb, circ, i2, a))
                        {
                            c += src[at(j, e) * p + at(j2, e2)];
                        }
                        for a2 in 0..f {
                            if let (Some(j), Some(j2)) =
                                (tap(&w, pb, circ, i, a), tap(&w, pb, circ, i2, a2))
                            {
                                pl += src[at(j, e) * p + at(j2, e2)];
                            }
                        }
                    }
                    let (ff, k) = (f as f64, at(i, e) * q + at(i2, e2));
                    assert!((conv[k] - c / ff).abs() < 1e-12, "{pad:?} f={f} s={s}");
                    assert!(
                        (pool[k] - pl / (ff * ff)).abs() < 1e-12,
                        "{pad:?} f={f} s={s}"
                    );
                }
                for k in 0..q {
                    assert!((diag[k] - conv[k * q + k]).abs() < 1e-12);
                }
            }
        }
    }
}
