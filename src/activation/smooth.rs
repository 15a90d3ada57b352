//! The named activations without a closed-form dual (logistic sigmoid, tanh, softplus, SiLU, ELU,
//! SELU): their functions and derivatives, fed to [`super::QuadratureDual`].

/// Logistic sigmoid 1/(1 + e^{−x}), evaluated without overflow for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// (φ, φ', φ'') of the logistic sigmoid.
pub fn sigmoid_derivs(x: f64) -> (f64, f64, f64) {
    let s = sigmoid(x);
    let d = s * (1.0 - s);
    (s, d, d * (1.0 - 2.0 * s))
}

/// (φ, φ', φ'') of tanh.
pub fn tanh_derivs(x: f64) -> (f64, f64, f64) {
    let t = x.tanh();
    let d = 1.0 - t * t;
    (t, d, -2.0 * t * d)
}

/// (φ, φ', φ'') of softplus ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^{−|x|}).
pub fn softplus_derivs(x: f64) -> (f64, f64, f64) {
    let v = x.max(0.0) + (-x.abs()).exp().ln_1p();
    let (s, d, _) = sigmoid_derivs(x);
    (v, s, d)
}

/// (φ, φ', φ'') of SiLU/swish x·σ(x).
pub fn silu_derivs(x: f64) -> (f64, f64, f64) {
    let (s, d, _) = sigmoid_derivs(x);
    (x * s, s + x * d, d * (2.0 + x * (1.0 - 2.0 * s)))
}

/// (φ, φ', φ'') of ELU with parameter α: x for x > 0, α(eˣ − 1) otherwise.
pub fn elu_derivs(x: f64, alpha: f64) -> (f64, f64, f64) {
    if x > 0.0 {
        (x, 1.0, 0.0)
    } else {
        let e = x.exp();
        (alpha * (e - 1.0), alpha * e, alpha * e)
    }
}

/// SELU's α (Klambauer et al. 2017).
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU's scale λ (Klambauer et al. 2017).
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// (φ, φ', φ'') of SELU = λ·ELU_α.
pub fn selu_derivs(x: f64) -> (f64, f64, f64) {
    let (v, d, d2) = elu_derivs(x, SELU_ALPHA);
    (SELU_SCALE * v, SELU_SCALE * d, SELU_SCALE * d2)
}
