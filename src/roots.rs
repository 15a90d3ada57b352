//! One-dimensional root bracketing shared by the mean-field fixed points and the gradient-flow
//! equations.

/// Bisection of g on a bracket [a, b] whose ends have opposite signs (`ga` = g(a)), until the bracket
/// is a few ulps wide: a root to working precision, robust where g is flat or only continuous. A
/// midpoint where g vanishes is returned at once. Iterations are capped at 2200, enough to cross the
/// whole f64 exponent range.
pub(crate) fn bisect<E>(
    g: impl Fn(f64) -> Result<f64, E>,
    mut a: f64,
    mut b: f64,
    ga: f64,
) -> Result<f64, E> {
    for _ in 0..2200 {
        let m = 0.5 * (a + b);
        if m == a || m == b || (b - a).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()) {
            break;
        }
        let gm = g(m)?;
        if gm == 0.0 {
            return Ok(m);
        }
        if gm.signum() == ga.signum() {
            a = m;
        } else {
            b = m;
        }
    }
    Ok(0.5 * (a + b))
}
