//! Running an image plan on one pair of inputs, or on one input with itself, in per-thread scratch:
//! the pixel-pair state of a pair lives in a few buffers of the largest state's size, reused for
//! every pair, so memory is the outputs plus O(P²) per thread.

use super::image::{ImagePlan, ImageStage};

/// Per-thread buffers for [`ImagePlan::pair`] and [`ImagePlan::point`].
pub(crate) struct Scratch {
    /// The state: Σ and Θ, `len` values each.
    s: Vec<f64>,
    t: Vec<f64>,
    len: usize,
    /// Targets of maps that change the state's size.
    s2: Vec<f64>,
    t2: Vec<f64>,
    /// The half-pooled state.
    tmp: Vec<f64>,
    /// The input of each nesting level of residual blocks.
    saved: Vec<(Vec<f64>, Vec<f64>)>,
}

/// Where an activation or layer norm finds the pixel variances of the two inputs.
enum Tables<'a> {
    /// A point with itself: read them off the state's diagonal and record them.
    Record(&'a mut [f64]),
    /// A pair: the two points' recorded tables.
    Read(&'a [f64], &'a [f64]),
}

impl ImagePlan {
    /// Scratch for one thread.
    pub(crate) fn scratch(&self) -> Scratch {
        let m = self.max_len.max(1);
        Scratch {
            s: vec![0.0; m],
            t: vec![0.0; m],
            len: 0,
            s2: vec![0.0; m],
            t2: vec![0.0; m],
            tmp: vec![0.0; m],
            saved: vec![(vec![0.0; m], vec![0.0; m]); self.residual_depth],
        }
    }

    /// One input (a flattened channels-last row) with itself: fills its variance table and returns
    /// (Σ(x, x), Θ(x, x)), or the first layer (and value) that is not finite.
    pub(crate) fn point(
        &self,
        x: &[f64],
        table: &mut [f64],
        sc: &mut Scratch,
    ) -> Result<(f64, f64), (usize, f64)> {
        self.load(x, x, sc);
        self.run(&self.stages, sc, &mut Tables::Record(table), x.len(), true)?;
        Ok((sc.s[0], sc.t[0]))
    }

    /// One input with itself, for a plan compiled with an image output: the full P × P state
    /// (Σ(x, x), Θ(x, x)) over output pixel pairs, row-major, or the first layer (and value) that
    /// is not finite.
    pub(crate) fn self_state(&self, x: &[f64]) -> Result<(Vec<f64>, Vec<f64>), (usize, f64)> {
        let mut sc = self.scratch();
        let mut table = vec![0.0; self.table_len];
        self.load(x, x, &mut sc);
        self.run(
            &self.stages,
            &mut sc,
            &mut Tables::Record(&mut table),
            x.len(),
            true,
        )?;
        Ok((sc.s[..sc.len].to_vec(), sc.t[..sc.len].to_vec()))
    }

    /// A pair of inputs with their variance tables: (Σ(x1, x2), Θ(x1, x2)). With `check`, stops at
    /// the first layer whose values are not finite; without it, the caller checks the result.
    pub(crate) fn pair(
        &self,
        (x1, t1): (&[f64], &[f64]),
        (x2, t2): (&[f64], &[f64]),
        sc: &mut Scratch,
        check: bool,
    ) -> Result<(f64, f64), (usize, f64)> {
        self.load(x1, x2, sc);
        self.run(&self.stages, sc, &mut Tables::Read(t1, t2), x1.len(), check)?;
        Ok((sc.s[0], sc.t[0]))
    }

    /// The input state: Σ(p, p') = x1(p)·x2(p')/C over the channels (full), or its diagonal, and
    /// Θ = 0. The same loop serves a point with itself, so identical pixels give identical values.
    fn load(&self, x1: &[f64], x2: &[f64], sc: &mut Scratch) {
        let p = self.pixels();
        let c = x1.len() / p;
        let dot = |i: usize, j: usize| {
            let (a, b) = (&x1[i * c..(i + 1) * c], &x2[j * c..(j + 1) * c]);
            a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>() / c as f64
        };
        if self.full_input {
            for i in 0..p {
                for j in 0..p {
                    sc.s[i * p + j] = dot(i, j);
                }
            }
            sc.len = p * p;
        } else {
            for i in 0..p {
                sc.s[i] = dot(i, i);
            }
            sc.len = p;
        }
        sc.t[..sc.len].fill(0.0);
    }

    fn run(
        &self,
        stages: &[ImageStage],
        sc: &mut Scratch,
        tables: &mut Tables,
        d: usize,
        check: bool,
    ) -> Result<(), (usize, f64)> {
        for stage in stages {
            self.apply(stage, sc, tables, d, check)?;
            if check {
                let bad = sc.s[..sc.len]
                    .iter()
                    .chain(&sc.t[..sc.len])
                    .find(|v| !v.is_finite());
                if let Some(&v) = bad {
                    return Err((stage_layer(stage), v));
                }
            }
        }
        Ok(())
    }

    fn apply(
        &self,
        stage: &ImageStage,
        sc: &mut Scratch,
        tables: &mut Tables,
        d: usize,
        check: bool,
    ) -> Result<(), (usize, f64)> {
        match stage {
            ImageStage::Affine {
                axes, full, dense, ..
            } => {
                for ax in axes {
                    let (_, po) = ax.pixels();
                    if *full {
                        ax.conv_full(&sc.s, &mut sc.s2);
                        ax.conv_full(&sc.t, &mut sc.t2);
                        sc.len = po * po;
                    } else {
                        ax.conv_diagonal(&sc.s, &mut sc.s2);
                        ax.conv_diagonal(&sc.t, &mut sc.t2);
                        sc.len = po;
                    }
                    std::mem::swap(&mut sc.s, &mut sc.s2);
                    std::mem::swap(&mut sc.t, &mut sc.t2);
                }
                for (s, t) in sc.s[..sc.len].iter_mut().zip(&mut sc.t[..sc.len]) {
                    (*s, *t) = dense.apply(*s, *t, d);
                }
            }
            ImageStage::Pool { axes, .. } => {
                for ax in axes {
                    let (_, po) = ax.pixels();
                    ax.pool_full(&sc.s, &mut sc.tmp, &mut sc.s2);
                    ax.pool_full(&sc.t, &mut sc.tmp, &mut sc.t2);
                    std::mem::swap(&mut sc.s, &mut sc.s2);
                    std::mem::swap(&mut sc.t, &mut sc.t2);
                    sc.len = po * po;
                }
            }
            ImageStage::Resample { axes, .. } => {
                for ax in axes {
                    let (_, po) = ax.pixels();
                    ax.map_full(&sc.s, &mut sc.tmp, &mut sc.s2);
                    ax.map_full(&sc.t, &mut sc.tmp, &mut sc.t2);
                    std::mem::swap(&mut sc.s, &mut sc.s2);
                    std::mem::swap(&mut sc.t, &mut sc.t2);
                    sc.len = po * po;
                }
            }
            ImageStage::GlobalPool { pixels, .. } => {
                let m = (pixels * pixels) as f64;
                sc.s[0] = sc.s[..sc.len].iter().sum::<f64>() / m;
                sc.t[0] = sc.t[..sc.len].iter().sum::<f64>() / m;
                sc.len = 1;
            }
            &ImageStage::Flatten { pixels, full, .. } => {
                let step = if full { pixels + 1 } else { 1 };
                let mean =
                    |v: &[f64]| (0..pixels).map(|i| v[i * step]).sum::<f64>() / pixels as f64;
                sc.s[0] = mean(&sc.s);
                sc.t[0] = mean(&sc.t);
                sc.len = 1;
            }
            &ImageStage::ToDiagonal { pixels } => {
                to_diagonal(&mut sc.s, pixels);
                to_diagonal(&mut sc.t, pixels);
                sc.len = pixels;
            }
            &ImageStage::Activation {
                ref stage,
                pixels,
                full,
                offset,
            } => {
                let (q1, q2) = variances(tables, sc, offset, pixels, full);
                let (s, t) = (&mut sc.s[..sc.len], &mut sc.t[..sc.len]);
                if full {
                    stage.dual.apply_rows(s, t, q1, q2);
                } else {
                    stage.dual.apply_diagonal(s, t, q1, q2);
                }
            }
            &ImageStage::LayerNorm {
                eps,
                pixels,
                full,
                offset,
                ..
            } => {
                let (q1, q2) = variances(tables, sc, offset, pixels, full);
                let (s, t) = (&mut sc.s[..sc.len], &mut sc.t[..sc.len]);
                for (i, &a) in q1.iter().enumerate() {
                    let cols = if full { 0..pixels } else { i..i + 1 };
                    for j in cols {
                        let k = if full { i * pixels + j } else { i };
                        let norm = ((eps + a) * (eps + q2[j])).sqrt();
                        s[k] /= norm;
                        t[k] /= norm;
                    }
                }
            }
            ImageStage::Residual {
                branch,
                depth,
                len,
                skip_to_diagonal,
                ..
            } => {
                let mut saved = std::mem::take(&mut sc.saved[*depth]);
                saved.0[..*len].copy_from_slice(&sc.s[..*len]);
                saved.1[..*len].copy_from_slice(&sc.t[..*len]);
                let ran = self.run(branch, sc, tables, d, check);
                if ran.is_ok() {
                    if let Some(p) = *skip_to_diagonal {
                        to_diagonal(&mut saved.0, p);
                        to_diagonal(&mut saved.1, p);
                    }
                    for i in 0..sc.len {
                        sc.s[i] += saved.0[i];
                        sc.t[i] += saved.1[i];
                    }
                }
                sc.saved[*depth] = saved;
                ran?;
            }
        }
        Ok(())
    }
}

/// The layer index a stage reports in errors.
fn stage_layer(stage: &ImageStage) -> usize {
    match stage {
        ImageStage::Affine { layer, .. }
        | ImageStage::Pool { layer, .. }
        | ImageStage::Resample { layer, .. }
        | ImageStage::GlobalPool { layer, .. }
        | ImageStage::Flatten { layer, .. }
        | ImageStage::LayerNorm { layer, .. }
        | ImageStage::Residual { layer, .. } => *layer,
        ImageStage::Activation { stage, .. } => stage.layer,
        // Copies values that were checked after the stage before.
        ImageStage::ToDiagonal { .. } => 0,
    }
}

/// The pixel variances of the two inputs at a table slot. A point with itself records them from
/// its state's diagonal first.
fn variances<'a>(
    tables: &'a mut Tables,
    sc: &Scratch,
    offset: usize,
    pixels: usize,
    full: bool,
) -> (&'a [f64], &'a [f64]) {
    match tables {
        Tables::Record(table) => {
            let step = if full { pixels + 1 } else { 1 };
            for i in 0..pixels {
                table[offset + i] = sc.s[i * step];
            }
            let q = &table[offset..offset + pixels];
            (q, q)
        }
        Tables::Read(t1, t2) => (&t1[offset..offset + pixels], &t2[offset..offset + pixels]),
    }
}

/// Keeps the diagonal of a full p × p state, in place (entry i is read from i·(p + 1) ≥ i before
/// any later write reaches it).
fn to_diagonal(v: &mut [f64], p: usize) {
    for i in 0..p {
        v[i] = v[i * (p + 1)];
    }
}
