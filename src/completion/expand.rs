//! The CNTK expansion of App. L (Radhakrishnan 2023, Theorem "CNTK Expansion"): the per-pixel
//! kernel of a large image built from the kernel of a 2^{s+1} × 2^{s+1} image by rotating and
//! minimum-padding its rows.
//!
//! For a network with circular padding, s stride-2 downsampling and s nearest-neighbour ×2
//! upsampling layers, and a prior whose channel Gram is C1 on the diagonal and C2 elsewhere (B.6),
//! the row (i, j) of the kernel K_{d2} of a d2 × d2 image is, with p = 2^s, i′ = i mod p,
//! j′ = j mod p and B = K_{s+1}\[i′, j′, :, :\] (a 2^{s+1} × 2^{s+1} matrix),
//!
//! K̃(i′, j′) = Π_{i′−p, j′−p}(M(Π_{p−i′, p−j′}(B))),  K_{d2}(i, j, :, :) = Π_{i−i′, j−j′}(K̃(i′, j′)),
//!
//! where Π_{a,b}(A)\[r, c\] = A\[(r − a) mod n, (c − b) mod n′\] rotates rows down by a and columns
//! right by b (Def. 10), and M pads to d2 × d2 with the minimum of its argument (Def. 11). The
//! rotations centre B's own pixel at (p, p) before padding, so the padding fills the pixels far
//! from (i′, j′). Rectangular targets (h × w, both multiples of p) use the same maps per axis.
//!
//! The seed claims the result is exact; `tests/suite/cntk_completion.rs` measures it against the
//! direct kernel (docs/completion.md gives the figures).

use crate::activation::Activation;
use crate::network::{Conv, Interpolation, Layer, Padding, Upsample};
use crate::{Error, Result};
use nalgebra::DMatrix;

/// App. L's network, whose kernels [`expand_cntk`] expands: a 3 × 3 convolution and ReLU, then s ×
/// (stride-2 convolution, ReLU), s × (nearest-neighbour ×2 upsampling, convolution, ReLU), and a
/// last convolution; all 3 × 3, circular, without bias, σ_w = 1 for the first and √2 after each
/// ReLU. It maps an image to one of the same size when both sides are multiples of 2^s.
pub fn down_up_layers(s: usize) -> Vec<Layer> {
    let conv = |w: f64, stride: usize| {
        Layer::from(
            Conv::new(&[3, 3], w)
                .padding(Padding::Circular)
                .strides(&[stride, stride]),
        )
    };
    let relu = || Layer::from(Activation::Relu);
    let mut layers = vec![conv(1.0, 1), relu()];
    for _ in 0..s {
        layers.extend([conv(2f64.sqrt(), 2), relu()]);
    }
    for _ in 0..s {
        let up = Upsample {
            factor: vec![2, 2],
            method: Interpolation::Nearest,
        };
        layers.extend([up.into(), conv(2f64.sqrt(), 1), relu()]);
    }
    layers.push(conv(2f64.sqrt(), 1));
    layers
}

/// Expands `base`, the pixel kernel (D² × D², pixels row-major) of a D × D image with
/// D = 2^{s+1}, to the h × w image's (hw × hw), by App. L's rotations and minimum padding. Fails
/// unless `base` is D² × D², and h and w are multiples of 2^s and at least D.
pub fn expand_cntk(base: &DMatrix<f64>, s: u32, h: usize, w: usize) -> Result<DMatrix<f64>> {
    let p = 1usize << s;
    let d = 2 * p;
    if base.shape() != (d * d, d * d) {
        return Err(Error::ShapeMismatch {
            what: "base kernel K_{s+1}".into(),
            expected: format!("{0} × {0} (a {d} × {d} image for s = {s})", d * d),
            found: format!("{} × {}", base.nrows(), base.ncols()),
        });
    }
    if h < d || w < d || h % p != 0 || w % p != 0 {
        return Err(crate::error::invalid(
            "size",
            format!("{h} × {w}"),
            &format!("the target must be at least {d} × {d} with sides multiples of 2^s = {p}"),
        ));
    }
    let rot = |a: isize, r: usize, n: usize| (r as isize - a).rem_euclid(n as isize) as usize;
    let mut out = DMatrix::zeros(h * w, h * w);
    for i in 0..h {
        for j in 0..w {
            let (i0, j0) = (i % p, j % p);
            let b = |r: usize, c: usize| base[(i0 * d + j0, r * d + c)];
            let min = (0..d * d)
                .map(|k| b(k / d, k % d))
                .fold(f64::INFINITY, f64::min);
            // Π_{p−i′, p−j′} on the D × D matrix B.
            let b1 = |r: usize, c: usize| {
                b(
                    rot(p as isize - i0 as isize, r, d),
                    rot(p as isize - j0 as isize, c, d),
                )
            };
            // M: pad to h × w with the minimum.
            let m = |r: usize, c: usize| if r < d && c < d { b1(r, c) } else { min };
            for r in 0..h {
                for c in 0..w {
                    // Π_{i−i′, j−j′} after Π_{i′−p, j′−p}, both on h × w.
                    let (r1, c1) = (
                        rot(i as isize - i0 as isize, r, h),
                        rot(j as isize - j0 as isize, c, w),
                    );
                    let (r2, c2) = (
                        rot(i0 as isize - p as isize, r1, h),
                        rot(j0 as isize - p as isize, c1, w),
                    );
                    out[(i * w + j, r * w + c)] = m(r2, c2);
                }
            }
        }
    }
    Ok(out)
}
