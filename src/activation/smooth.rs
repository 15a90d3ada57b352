//! The named activations without a closed-form dual (logistic sigmoid, tanh, softplus, SiLU, ELU,
//! SELU, hard tanh, mish): their functions and first two derivatives, fed to
//! [`super::QuadratureDual`].

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

/// (φ, φ', φ'') of hard tanh max(−1, min(x, 1)); at the kinks ±1, φ' is the mean ½ of the one-sided
/// slopes (the convention of ReLU at 0).
pub fn hard_tanh_derivs(x: f64) -> (f64, f64, f64) {
    let a = x.abs();
    if a < 1.0 {
        (x, 1.0, 0.0)
    } else if a == 1.0 {
        (x, 0.5, 0.0)
    } else {
        (x.signum(), 0.0, 0.0)
    }
}

/// (φ, φ', φ'') of mish x·tanh(softplus(x)) (Misra 2019). With t = tanh(softplus(x)) and the
/// logistic σ: φ' = t + x(1 − t²)σ and φ'' = (1 − t²)σ·[2 + x(1 − σ − 2tσ)], since
/// dt/dx = (1 − t²)σ. t and 1 − t² come from e^{±x} directly: with N = e²ˣ + 2eˣ,
/// t = N/(N + 2) and 1 − t² = 4(N + 1)/(N + 2)², rewritten in e^{−x} for x > 0 so that nothing
/// overflows and 1 − t² keeps its relative accuracy where t → 1.
pub fn mish_derivs(x: f64) -> (f64, f64, f64) {
    let (t, one_minus_t2) = if x > 0.0 {
        let e = (-x).exp();
        let n = 1.0 + 2.0 * e;
        let d = n + 2.0 * e * e;
        (n / d, 4.0 * e * e * (n + e * e) / (d * d))
    } else {
        let e = x.exp();
        let n = e * (e + 2.0);
        let d = n + 2.0;
        (n / d, 4.0 * (n + 1.0) / (d * d))
    };
    let s = sigmoid(x);
    let ds = one_minus_t2 * s;
    (x * t, t + x * ds, ds * (2.0 + x * (1.0 - s - 2.0 * t * s)))
}
