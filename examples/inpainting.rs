//! Image inpainting with the CNTK for matrix completion (Radhakrishnan 2023, Ch. 3.4–3.5, App. K–L).
//!
//! `cargo run --release --example inpainting`
//!
//! * Image: `data/camera_64.pgm`, scikit-image's CC0 "camera" photograph box-averaged to 64 × 64
//!   (`data/README.md`), intensities scaled to [0, 1].
//! * Mask (fixed seed): a 14 × 14 block and 15 % of the other pixels, scattered, are removed.
//! * Network: conv 3×3, ReLU, s = 4 × (stride-2 conv 3×3, ReLU), 4 × (nearest ×2 upsampling,
//!   conv 3×3, ReLU), conv 3×3; circular padding, no bias, σ_w = √2 after each ReLU.
//! * Prior: the i.i.d. U[0, 0.1] prior with infinitely many channels, i.e. the channel Gram C1 on the
//!   diagonal and C2 = 0.75·C1 elsewhere (B.6). The kernel is computed directly at 32 × 32 and
//!   expanded to 64 × 64 by App. L's algorithm (exact: `tests/suite/cntk_completion.rs`).
//! * Completion: ridgeless kernel regression over the observed pixels (pseudo-inverse).
//! * Baselines: nearest-neighbour fill (the nearest observed pixel) and biharmonic fill (the
//!   missing pixels minimize ‖Δu‖² with the 5-point Laplacian and mirrored borders, which makes
//!   Δ²u = 0 on them).
//!
//! Prints PSNR (whole image and missing pixels only, peak 1) and times, and writes
//! `target/figures/inpainting_{original,masked,cntk,biharmonic,nearest}.png`.

mod common;

use nalgebra::{DMatrix, DVector};
use ntk::completion::cntk::CntkCompletion;
use ntk::completion::expand::expand_cntk;
use ntk::kernel::pixels::PixelNetwork;
use ntk::network::Parameterization;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::error::Error;
use std::path::Path;
use std::time::Instant;

const S: usize = 4;

/// A binary 8-bit PGM (P5) as intensities in [0, 1], row-major.
fn read_pgm(path: &Path) -> Result<(usize, usize, Vec<f64>), Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..pos])?.to_string());
    }
    if fields[0] != "P5" || fields[3] != "255" {
        return Err("expected an 8-bit binary PGM".into());
    }
    let (w, h): (usize, usize) = (fields[1].parse()?, fields[2].parse()?);
    let data = &bytes[pos + 1..];
    if data.len() != w * h {
        return Err("truncated PGM".into());
    }
    Ok((h, w, data.iter().map(|&b| b as f64 / 255.0).collect()))
}

fn write_png(path: &Path, h: usize, w: usize, v: &[f64]) -> Result<(), Box<dyn Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let bytes: Vec<u8> = v
        .iter()
        .map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    enc.write_header()?.write_image_data(&bytes)?;
    Ok(())
}

fn psnr(a: &[f64], b: &[f64], only: impl Fn(usize) -> bool) -> f64 {
    let (mut se, mut n) = (0.0, 0.0);
    for k in (0..a.len()).filter(|&k| only(k)) {
        se += (a[k] - b[k]).powi(2);
        n += 1.0;
    }
    10.0 * (1.0 / (se / n)).log10()
}

fn nearest_fill(h: usize, w: usize, v: &[f64], seen: &[bool]) -> Vec<f64> {
    let obs: Vec<usize> = (0..h * w).filter(|&k| seen[k]).collect();
    (0..h * w)
        .map(|k| {
            if seen[k] {
                return v[k];
            }
            let (i, j) = ((k / w) as isize, (k % w) as isize);
            let near = obs
                .iter()
                .min_by_key(|&&o| {
                    let (a, b) = ((o / w) as isize, (o % w) as isize);
                    (a - i).pow(2) + (b - j).pow(2)
                })
                .expect("some pixel is observed");
            v[*near]
        })
        .collect()
}

/// Minimizes ‖Lu‖² over the missing pixels (L: 5-point Laplacian, mirrored borders) by the normal
/// equations, dense (a few hundred unknowns).
fn biharmonic_fill(h: usize, w: usize, v: &[f64], seen: &[bool]) -> Vec<f64> {
    let p = h * w;
    let missing: Vec<usize> = (0..p).filter(|&k| !seen[k]).collect();
    let mut col = vec![usize::MAX; p];
    for (m, &k) in missing.iter().enumerate() {
        col[k] = m;
    }
    let mirror = |x: isize, n: usize| {
        if x < 0 {
            1
        } else if x >= n as isize {
            n - 2
        } else {
            x as usize
        }
    };
    let mut a = DMatrix::zeros(p, missing.len());
    let mut b = DVector::zeros(p);
    for i in 0..h {
        for j in 0..w {
            let row = i * w + j;
            let taps = [
                (i as isize, j as isize, -4.0),
                (i as isize - 1, j as isize, 1.0),
                (i as isize + 1, j as isize, 1.0),
                (i as isize, j as isize - 1, 1.0),
                (i as isize, j as isize + 1, 1.0),
            ];
            for (r, c, wgt) in taps {
                let k = mirror(r, h) * w + mirror(c, w);
                if seen[k] {
                    b[row] -= wgt * v[k];
                } else {
                    a[(row, col[k])] += wgt;
                }
            }
        }
    }
    let ata = a.transpose() * &a;
    let x = ata
        .cholesky()
        .expect("the Laplacian has full column rank on the missing pixels")
        .solve(&(a.transpose() * b));
    let mut out = v.to_vec();
    for (m, &k) in missing.iter().enumerate() {
        out[k] = x[m];
    }
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (h, w, img) = read_pgm(&root.join("data/camera_64.pgm"))?;
    let p = h * w;
    // The mask: a 14 × 14 block and 15 % of the rest.
    let mut rng = ChaCha8Rng::seed_from_u64(2023);
    let seen: Vec<bool> = (0..p)
        .map(|k| {
            let (i, j) = (k / w, k % w);
            let block = (20..34).contains(&i) && (26..40).contains(&j);
            !block && rng.random::<f64>() >= 0.15
        })
        .collect();
    let n_missing = seen.iter().filter(|s| !**s).count();
    eprintln!("{h} × {w} image, {n_missing} of {p} pixels missing");

    // The kernel at 2^{s+1} = 32, from a prior with channel Gram C1 = 1, C2 = 0.75 (the U[0, 0.1]
    // ratio; the scale does not matter to ridgeless regression), then expanded to 64.
    let t0 = Instant::now();
    let d = 2usize << S;
    let pd = d * d;
    let gram = DMatrix::from_fn(
        pd,
        pd,
        |a, b| if a == b { pd as f64 } else { 0.75 * pd as f64 },
    );
    let l = gram
        .cholesky()
        .ok_or("two-level Gram is positive definite")?
        .l();
    let prior: Vec<f64> = (0..pd * pd).map(|k| l[(k / pd, k % pd)]).collect();
    let base_net = PixelNetwork::new(
        &ntk::completion::expand::down_up_layers(S),
        &[d, d, pd],
        Parameterization::Ntk,
    )?;
    let base = base_net.pixel_kernels(&prior)?.ntk;
    let t_base = t0.elapsed().as_secs_f64();
    eprintln!("base kernel {d} × {d}: {t_base:.1} s");
    let t1 = Instant::now();
    let kernel = expand_cntk(&base, S as u32, h, w)?;
    let t_expand = t1.elapsed().as_secs_f64();
    eprintln!("expanded to {h} × {w}: {t_expand:.1} s");

    // Completion over the observed pixels, with a network of the target size for the shapes.
    let t2 = Instant::now();
    let net = PixelNetwork::new(
        &ntk::completion::expand::down_up_layers(S),
        &[h, w, 1],
        Parameterization::Ntk,
    )?;
    let y = DMatrix::from_fn(1, p, |_, k| seen[k].then_some(img[k]));
    let cntk = CntkCompletion::new(net).complete_with_kernel(&kernel, &y)?;
    let cntk: Vec<f64> = cntk.iter().copied().collect();
    let t_solve = t2.elapsed().as_secs_f64();
    eprintln!("regression: {t_solve:.1} s");

    let t3 = Instant::now();
    let bih = biharmonic_fill(h, w, &img, &seen);
    let t_bih = t3.elapsed().as_secs_f64();
    let nn = nearest_fill(h, w, &img, &seen);

    let miss = |k: usize| !seen[k];
    println!("method            PSNR (image)  PSNR (missing)  time (s)");
    for (name, out, t) in [
        ("CNTK", &cntk, t_base + t_expand + t_solve),
        ("biharmonic", &bih, t_bih),
        ("nearest neighbour", &nn, 0.0),
    ] {
        println!(
            "{name:<17} {:>12.2}  {:>14.2}  {t:>8.2}",
            psnr(&img, out, |_| true),
            psnr(&img, out, miss)
        );
    }

    let dir = common::out_dir()?;
    let masked: Vec<f64> = (0..p).map(|k| if seen[k] { img[k] } else { 0.0 }).collect();
    for (name, v) in [
        ("original", &img),
        ("masked", &masked),
        ("cntk", &cntk),
        ("biharmonic", &bih),
        ("nearest", &nn),
    ] {
        let path = dir.join(format!("inpainting_{name}.png"));
        write_png(&path, h, w, v)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
