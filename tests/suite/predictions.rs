//! Kernel regression and infinite-ensemble training dynamics against neural-tangents 0.6.5
//! (`tests/data/nt_predictions.json`, a copy of `shared/reference/predictions.json`: `gp_inference` and
//! `gradient_descent_mse_ensemble` for a ReLU depth-2 net with relative regularization and an Erf
//! depth-3 net with absolute regularization and 2 outputs), plus properties of the API.
//!
//! Tolerance: each entry's error is divided by max(|r|, 1e-3·max|R|) (r the NT value, R the whole
//! reference matrix) and must be ≤ 1e-9. Entries far below the matrix's scale come from cancellations
//! (Σ_tt − Σ_td Σ_reg⁻¹ Σ_dt, or a mean that happens to be near 0); their rounding error is of order
//! ε·κ(K_reg)·max|R| whatever the implementation, so a purely relative test would compare rounding
//! noise. Both sides are float64 evaluations of the same closed forms through different factorizations
//! (faer here, LAPACK in NT), with κ(K_reg) ≤ 2e2 here; measured agreement is ≤ 1.2e-12, so 1e-9 only
//! leaves room for rounding and any wrong term or convention fails it.
//!
//! End to end (our own network kernels instead of the stored ones), the kernels themselves must agree
//! with NT's to 1e-12 off the diagonal. NT's ReLU NTK diagonal is off by ~5e-9 relative (its
//! atan2(√(P − c²), c) at x = x' gives θ ≈ 1e-8 instead of 0; reference README §5) while ours is exact,
//! so for the predictions that depend on it the tolerance is max(1e-9, κ(K_reg)·δ), δ the largest
//! relative kernel discrepancy, which is the first-order perturbation bound for K_reg⁻¹.

use approx::{abs_diff_eq, assert_abs_diff_eq};
use nalgebra::DMatrix;
use ntk::{
    Activation, EnsembleDynamics, Error, Fallback, Gaussian, GpInference, KernelKind, KernelSolver,
    Network, Posterior, Regularization, TestKernels, TrainKernels, max_learning_rate,
};
use serde_json::Value;

fn load() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nt_predictions.json"
    ))
    .expect("reference data present in the repository");
    serde_json::from_str(&text).expect("valid JSON")
}

fn matrix(v: &Value) -> DMatrix<f64> {
    let rows = v.as_array().expect("matrix rows");
    let n = rows.len();
    let d = rows[0].as_array().expect("row").len();
    DMatrix::from_fn(n, d, |i, j| rows[i][j].as_f64().expect("finite number"))
}

fn network(cfg: &Value) -> Network {
    let act = &cfg["activation"];
    let activation = match act["name"].as_str().unwrap() {
        "Relu" => Activation::Relu,
        "Erf" => {
            let p = &act["params"];
            Activation::Erf {
                a: p["a"].as_f64().unwrap(),
                b: p["b"].as_f64().unwrap(),
                c: p["c"].as_f64().unwrap(),
            }
        }
        other => panic!("activation {other} missing from the test mapping"),
    };
    assert_eq!(cfg["parameterization"], "ntk");
    Network::mlp(cfg["depth"].as_u64().unwrap() as usize, activation)
        .w_std(cfg["W_std"].as_f64().unwrap())
        .b_std(cfg["b_std"].as_f64())
        .width(cfg["hidden_width"].as_u64().unwrap() as usize)
        .build()
        .unwrap()
}

/// Worst scaled error of `ours` against `reference` (see the module docs).
fn scaled_error(ours: &DMatrix<f64>, reference: &DMatrix<f64>) -> f64 {
    assert_eq!(ours.shape(), reference.shape());
    assert!(ours.iter().all(|v| v.is_finite()));
    let max = reference.amax();
    ours.iter()
        .zip(reference.iter())
        .map(|(a, r)| (a - r).abs() / r.abs().max(1e-3 * max))
        .fold(0.0, f64::max)
}

const TOL: f64 = 1e-9;

struct Case {
    name: String,
    y: DMatrix<f64>,
    lr: f64,
    reg: Regularization,
    x_train: DMatrix<f64>,
    x_test: DMatrix<f64>,
    config: Value,
    stored_train: TrainKernels,
    stored_test: TestKernels,
    json: Value,
}

fn cases() -> Vec<Case> {
    let data = load();
    data["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let k = &p["kernels"];
            let diag_reg = p["diag_reg"].as_f64().unwrap();
            Case {
                name: p["name"].as_str().unwrap().to_string(),
                y: matrix(&p["y_train"]),
                lr: p["learning_rate"].as_f64().unwrap(),
                reg: if p["diag_reg_absolute_scale"].as_bool().unwrap() {
                    Regularization::Absolute(diag_reg)
                } else {
                    Regularization::Relative(diag_reg)
                },
                x_train: matrix(&p["x_train"]),
                x_test: matrix(&p["x_test"]),
                config: p["config"].clone(),
                stored_train: TrainKernels {
                    nngp: matrix(&k["train_train_nngp"]),
                    ntk: matrix(&k["train_train_ntk"]),
                },
                stored_test: TestKernels {
                    nngp_test_train: matrix(&k["test_train_nngp"]),
                    ntk_test_train: matrix(&k["test_train_ntk"]),
                    nngp_test_test: matrix(&k["test_test_nngp"]),
                    ntk_test_test: None,
                },
                json: p.clone(),
            }
        })
        .collect()
}

fn compare(case: &str, what: &str, ours: &Gaussian, reference: &Value, tol: f64, worst: &mut f64) {
    for (field, mine) in [("mean", &ours.mean), ("cov", &ours.covariance)] {
        let e = scaled_error(mine, &matrix(&reference[field]));
        eprintln!("{case:32} {what:24} {field:5} scaled error {e:.2e}");
        assert!(e <= tol, "{case} {what} {field}: scaled error {e:e}");
        *worst = worst.max(e);
    }
}

/// Runs every reference comparison for one case on the given kernels; returns the worst scaled error.
/// `tol = [NNGP predictions, NTK predictions]`.
fn check_case(
    c: &Case,
    train: &TrainKernels,
    test: &TestKernels,
    label: &str,
    tols: [f64; 2],
) -> f64 {
    let name = format!("{} [{label}]", c.name);
    let mut worst = 0.0f64;
    let gp = GpInference::params()
        .regularization(c.reg)
        .fit(train, &c.y)
        .unwrap();
    let dynamics = EnsembleDynamics::params()
        .learning_rate(c.lr)
        .regularization(c.reg)
        .fit(train, &c.y)
        .unwrap();
    for (kind, key, tol) in [
        (KernelKind::Nngp, "nngp", tols[0]),
        (KernelKind::Ntk, "ntk", tols[1]),
    ] {
        // Effective absolute regularization.
        let want = c.json["effective_absolute_diag_reg"][key].as_f64().unwrap();
        for got in [gp.diag_reg(kind), dynamics.diag_reg(kind)] {
            let e = (got - want).abs() / want;
            assert!(e <= tol, "{name} diag_reg {key}: {got} vs {want}");
            worst = worst.max(e);
        }
        // gp_inference and t = None (Cholesky).
        let inf = gp.predict(kind, test).unwrap();
        compare(
            &name,
            &format!("gp_inference {key}"),
            &inf,
            &c.json["gp_inference"][key],
            tol,
            &mut worst,
        );
        let ens = &c.json["gradient_descent_mse_ensemble"];
        compare(
            &name,
            &format!("t=None {key}"),
            &inf,
            &ens["t=None"][key],
            tol,
            &mut worst,
        );
        // Finite times and t = ∞ through the eigendecomposition, in one call.
        let path = dynamics
            .predict(kind, test, &[1.0, 10.0, f64::INFINITY])
            .unwrap();
        for (g, t) in path.iter().zip(["t=1.0", "t=10.0", "t=inf_eigh"]) {
            compare(
                &name,
                &format!("{t} {key}"),
                g,
                &ens[t][key],
                tol,
                &mut worst,
            );
        }
        // Outputs on the training set.
        let train_set = dynamics.predict_train(kind, &[1.0]).unwrap();
        compare(
            &name,
            &format!("train_set_t=1.0 {key}"),
            &train_set[0],
            &ens["train_set_t=1.0"][key],
            tol,
            &mut worst,
        );
    }
    worst
}

#[test]
fn reproduces_neural_tangents_from_stored_kernels() {
    let mut worst = 0.0f64;
    for c in cases() {
        worst = worst.max(check_case(
            &c,
            &c.stored_train,
            &c.stored_test,
            "stored kernels",
            [TOL; 2],
        ));
    }
    eprintln!("worst scaled error (stored kernels): {worst:.2e}");
}

#[test]
fn reproduces_neural_tangents_end_to_end() {
    let mut worst = 0.0f64;
    for c in cases() {
        let net = network(&c.config);
        let train = TrainKernels::compute(&net, &c.x_train).unwrap();
        let test = TestKernels::compute(&net, &c.x_test, &c.x_train).unwrap();
        // Our kernels against the ones NT used: off-diagonal entries agree to rounding; the ReLU NTK
        // diagonal differs by ~5e-9 relative because NT evaluates θ = atan2(√(P − c²), c) at x = x' and
        // gets θ ≈ 1e-8 instead of 0 (reference README §5). That discrepancy δ propagates through
        // K_reg⁻¹ amplified by at most κ(K_reg), so the tolerance is max(1e-9, κ·δ).
        // δ = [over the NNGP matrices, over all matrices]; NNGP predictions use only the former.
        let mut delta = [0.0f64; 2];
        for (a, b, is_nngp) in [
            (&train.nngp, &c.stored_train.nngp, true),
            (&train.ntk, &c.stored_train.ntk, false),
            (&test.nngp_test_train, &c.stored_test.nngp_test_train, true),
            (&test.ntk_test_train, &c.stored_test.ntk_test_train, false),
            (&test.nngp_test_test, &c.stored_test.nngp_test_test, true),
        ] {
            let rel = (a - b).component_div(b).abs();
            let mut off = rel.clone();
            if off.is_square() {
                off.fill_diagonal(0.0);
            }
            assert!(off.max() <= 1e-12, "{}: kernels off-diagonal", c.name);
            assert!(rel.max() <= 1e-7, "{}: kernels diagonal", c.name);
            if is_nngp {
                delta[0] = delta[0].max(rel.max());
            }
            delta[1] = delta[1].max(rel.max());
        }
        let gp = GpInference::params()
            .regularization(c.reg)
            .fit(&train, &c.y)
            .unwrap();
        let kappa = |k: &DMatrix<f64>, kind| {
            let e = (k + DMatrix::identity(k.nrows(), k.nrows()) * gp.diag_reg(kind))
                .symmetric_eigenvalues();
            e.max() / e.min()
        };
        let kappa_nngp = kappa(&train.nngp, KernelKind::Nngp);
        let kappa_all = kappa_nngp.max(kappa(&train.ntk, KernelKind::Ntk));
        let tols = [
            TOL.max(kappa_nngp * delta[0]),
            TOL.max(kappa_all * delta[1]),
        ];
        eprintln!(
            "{}: kernel discrepancy δ = {:.2e} (NNGP) {:.2e} (all), κ = {kappa_all:.2e}, tolerances {:.2e} {:.2e}",
            c.name, delta[0], delta[1], tols[0], tols[1]
        );
        let tol = tols[1];
        worst = worst.max(check_case(&c, &train, &test, "our kernels", tols));
        // The convenience constructors give the same as the matrix API.
        let gp = GpInference::params()
            .regularization(c.reg)
            .fit_points(&net, &c.x_train, &c.y)
            .unwrap();
        let a = gp
            .predict_points(Posterior::NtkGp, &net, &c.x_test)
            .unwrap();
        let b = GpInference::params()
            .regularization(c.reg)
            .fit(&train, &c.y)
            .unwrap()
            .predict(Posterior::NtkGp, &test)
            .unwrap();
        assert_eq!(a, b);
        let d = EnsembleDynamics::params()
            .learning_rate(c.lr)
            .regularization(c.reg)
            .fit_points(&net, &c.x_train, &c.y)
            .unwrap();
        let p = d
            .predict_points(KernelKind::Ntk, &net, &c.x_test, &[1.0])
            .unwrap();
        let e = scaled_error(
            &p[0].mean,
            &matrix(&c.json["gradient_descent_mse_ensemble"]["t=1.0"]["ntk"]["mean"]),
        );
        assert!(e <= tol);
    }
    eprintln!("worst scaled error (our kernels): {worst:.2e}");
}

fn is_symmetric_psd(c: &DMatrix<f64>) -> bool {
    let scale = c.amax().max(1e-300);
    let sym = (c - c.transpose()).amax() == 0.0;
    let min = c.clone().symmetric_eigenvalues().min();
    sym && min >= -1e-10 * scale
}

/// The ReLU case on our own kernels: x_train (8 points), x_test (5 points).
fn relu_case() -> (Network, Case) {
    let c = cases().remove(0);
    (network(&c.config), c)
}

#[test]
fn ridgeless_interpolates_and_ridge_to_zero_converges() {
    let (net, c) = relu_case();
    let train = TrainKernels::compute(&net, &c.x_train).unwrap();
    let on_train = TestKernels::compute(&net, &c.x_train, &c.x_train).unwrap();
    let test = TestKernels::compute(&net, &c.x_test, &c.x_train).unwrap();
    let ridgeless = GpInference::params()
        .regularization(Regularization::Relative(0.0))
        .fit(&train, &c.y)
        .unwrap();
    for kind in [
        Posterior::from(KernelKind::Nngp),
        KernelKind::Ntk.into(),
        Posterior::NtkGp,
    ] {
        let g = ridgeless.predict(kind, &on_train).unwrap();
        assert!((&g.mean - &c.y).amax() < 1e-9, "{kind:?} interpolates");
        assert!(g.covariance.amax() < 1e-8 * train.nngp.amax().max(train.ntk.amax()));
        let exact = ridgeless.predict(kind, &test).unwrap();
        let mut prev = f64::INFINITY;
        for r in [1e-2, 1e-4, 1e-6, 1e-8] {
            let g = GpInference::params()
                .regularization(Regularization::Relative(r))
                .fit(&train, &c.y)
                .unwrap()
                .predict(kind, &test)
                .unwrap();
            let d = (&g.mean - &exact.mean).amax() + (&g.covariance - &exact.covariance).amax();
            assert!(d < prev, "{kind:?}: ridge {r} does not approach ridgeless");
            prev = d;
        }
        assert!(prev < 1e-6, "{kind:?}: {prev}");
    }
}

#[test]
fn time_limits_and_psd_covariances() {
    let (net, c) = relu_case();
    let train = TrainKernels::compute(&net, &c.x_train).unwrap();
    let test = TestKernels::compute(&net, &c.x_test, &c.x_train).unwrap();
    let reg = Regularization::Relative(1e-4);
    let gp = GpInference::params()
        .regularization(reg)
        .fit(&train, &c.y)
        .unwrap();
    let d = EnsembleDynamics::params()
        .learning_rate(0.7)
        .regularization(reg)
        .fit(&train, &c.y)
        .unwrap();
    for kind in [KernelKind::Nngp, KernelKind::Ntk] {
        let times = [0.0, 0.1, 1.0, 10.0, 1e3, 1e12, f64::INFINITY];
        let path = d.predict(kind, &test, &times).unwrap();
        // t = 0: the prior.
        assert_eq!(path[0].mean.amax(), 0.0);
        assert_eq!(path[0].covariance, test.nngp_test_test);
        // Large t → t = ∞ = the Cholesky result.
        let inf = gp.predict(kind, &test).unwrap();
        for g in &path[5..] {
            assert!((&g.mean - &inf.mean).amax() < 1e-9 * inf.mean.amax());
            assert!((&g.covariance - &inf.covariance).amax() < 1e-9 * test.nngp_test_test.amax());
        }
        for g in path.iter().chain([&inf]) {
            assert!(is_symmetric_psd(&g.covariance), "{kind:?}");
        }
        // Training set: t = 0 is the prior (the NNGP branch uses the regularized eigenvalues, as NT),
        // t = ∞ the targets.
        let tr = d.predict_train(kind, &[0.0, 1.0, f64::INFINITY]).unwrap();
        assert_eq!(tr[0].mean.amax(), 0.0);
        let prior = match kind {
            KernelKind::Nngp => {
                let mut k = train.nngp.clone();
                for i in 0..k.nrows() {
                    k[(i, i)] += d.diag_reg(kind);
                }
                k
            }
            _ => train.nngp.clone(),
        };
        assert!((&tr[0].covariance - prior).amax() < 1e-12 * train.nngp.amax());
        assert!((&tr[2].mean - &c.y).amax() < 1e-12);
        assert!(tr[2].covariance.amax() < 1e-12);
        for g in &tr {
            assert!(is_symmetric_psd(&g.covariance));
        }
    }
    let ntkgp = gp.predict(Posterior::NtkGp, &test).unwrap();
    assert!(is_symmetric_psd(&ntkgp.covariance));
    let no_tt = TestKernels {
        ntk_test_test: None,
        ..test
    };
    assert!(
        gp.predict(Posterior::NtkGp, &no_tt).is_err(),
        "NtkGp needs the test-test NTK"
    );
}

#[test]
fn not_positive_definite_is_a_typed_error_without_nan() {
    // Eigenvalues 3 and −1.
    let k = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
    let y = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
    match KernelSolver::params()
        .regularization(Regularization::Absolute(0.5))
        .fit(&k)
    {
        Err(Error::NotPositiveDefinite {
            min_eigenvalue,
            diag_reg,
            ..
        }) => {
            assert_abs_diff_eq!(min_eigenvalue, -0.5, epsilon = 1e-12);
            assert_eq!(diag_reg, 0.5);
        }
        other => panic!("{other:?}"),
    }
    let msg = KernelSolver::params()
        .regularization(Regularization::Absolute(0.0))
        .fit(&k)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("increase") && msg.contains("Fallback"),
        "{msg}"
    );
    // Enough regularization fixes it.
    assert!(
        KernelSolver::params()
            .regularization(Regularization::Absolute(1.5))
            .fit(&k)
            .is_ok()
    );
    let train = TrainKernels {
        nngp: k.clone(),
        ntk: k.clone(),
    };
    assert!(matches!(
        GpInference::params()
            .regularization(Regularization::Absolute(0.0))
            .fit(&train, &y),
        Err(Error::NotPositiveDefinite { .. })
    ));
    // Pseudo-inverse fallback: finite, and K K⁺ y = y on the range.
    let pinv = KernelSolver::params()
        .regularization(Regularization::Absolute(0.0))
        .fallback(Fallback::PseudoInverse { rcond: 1e-12 })
        .fit(&k)
        .unwrap();
    assert!(pinv.is_pseudo_inverse());
    let x = pinv.solve(&y).unwrap();
    assert!((&k * &x - &y).amax() < 1e-14);
    // Jitter fallback on a singular PSD matrix.
    let singular = DMatrix::from_element(3, 3, 2.0);
    let j = KernelSolver::params()
        .regularization(Regularization::Absolute(0.0))
        .fallback(Fallback::Jitter {
            initial: 1e-10,
            max_tries: 8,
        })
        .fit(&singular)
        .unwrap();
    assert!(j.diag_reg() > 0.0 && j.diag_reg() < 1e-2);
    assert!(
        j.solve(&DMatrix::from_element(3, 1, 1.0))
            .unwrap()
            .iter()
            .all(|v| v.is_finite())
    );
    // Jitter cannot fix an indefinite matrix within its budget.
    assert!(
        KernelSolver::params()
            .regularization(Regularization::Absolute(0.0))
            .fallback(Fallback::Jitter {
                initial: 1e-10,
                max_tries: 3
            })
            .fit(&k)
            .is_err()
    );
    // Dynamics: finite t stays finite (negative directions are not trained); t = ∞ is an error.
    let test = TestKernels {
        nngp_test_train: DMatrix::from_row_slice(1, 2, &[0.5, 0.5]),
        ntk_test_train: DMatrix::from_row_slice(1, 2, &[0.5, 0.5]),
        nngp_test_test: DMatrix::from_element(1, 1, 1.0),
        ntk_test_test: None,
    };
    let d = EnsembleDynamics::params()
        .learning_rate(1.0)
        .regularization(Regularization::Absolute(0.0))
        .fit(&train, &y)
        .unwrap();
    for kind in [KernelKind::Nngp, KernelKind::Ntk] {
        let g = d.predict(kind, &test, &[0.0, 1.0, 1e6]).unwrap();
        assert!(g.iter().all(|g| {
            g.mean
                .iter()
                .chain(g.covariance.iter())
                .all(|v| v.is_finite())
        }));
        assert!(matches!(
            d.predict(kind, &test, &[f64::INFINITY]),
            Err(Error::NotPositiveDefinite { .. })
        ));
        let tr = d.predict_train(kind, &[0.0, 2.0, f64::INFINITY]).unwrap();
        assert!(tr.iter().all(|g| {
            g.mean
                .iter()
                .chain(g.covariance.iter())
                .all(|v| v.is_finite())
        }));
    }
}

#[test]
fn invalid_inputs_are_rejected() {
    let k = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 2.0]);
    let train = TrainKernels {
        nngp: k.clone(),
        ntk: k.clone(),
    };
    let y = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
    let invalid =
        |r: ntk::Result<EnsembleDynamics>| matches!(r, Err(Error::InvalidParameter { .. }));
    assert!(invalid(
        EnsembleDynamics::params()
            .learning_rate(1.0)
            .regularization(Regularization::Relative(-1e-3))
            .fit(&train, &y)
    ));
    assert!(invalid(
        EnsembleDynamics::params()
            .learning_rate(1.0)
            .regularization(Regularization::Absolute(f64::NAN))
            .fit(&train, &y)
    ));
    assert!(invalid(
        EnsembleDynamics::params()
            .learning_rate(f64::INFINITY)
            .fit(&train, &y)
    ));
    assert!(invalid(
        EnsembleDynamics::params()
            .learning_rate(-1.0)
            .fit(&train, &y)
    ));
    let d = EnsembleDynamics::params()
        .learning_rate(1.0)
        .fit(&train, &y)
        .unwrap();
    for t in [-1.0, f64::NAN, f64::NEG_INFINITY] {
        assert!(matches!(
            d.predict_train(KernelKind::Ntk, &[t]),
            Err(Error::InvalidParameter { .. })
        ));
    }
    // The NTK-GP has no training dynamics: `d.predict_train(Posterior::NtkGp, …)` no longer
    // compiles (EnsembleDynamics takes a KernelKind; see its compile_fail doctest).
    // Shapes.
    let bad_y = DMatrix::from_element(3, 1, 1.0);
    assert!(matches!(
        GpInference::params().fit(&train, &bad_y),
        Err(Error::ShapeMismatch { .. })
    ));
    let bad_train = TrainKernels {
        nngp: k.clone(),
        ntk: DMatrix::from_element(2, 3, 1.0),
    };
    assert!(matches!(
        GpInference::params().fit(&bad_train, &y),
        Err(Error::ShapeMismatch { .. })
    ));
    let gp = GpInference::params().fit(&train, &y).unwrap();
    let bad_test = TestKernels {
        nngp_test_train: DMatrix::from_element(1, 3, 1.0),
        ntk_test_train: DMatrix::from_element(1, 2, 1.0),
        nngp_test_test: DMatrix::from_element(1, 1, 1.0),
        ntk_test_test: None,
    };
    assert!(matches!(
        gp.predict(KernelKind::Nngp, &bad_test),
        Err(Error::ShapeMismatch { .. })
    ));
    // Non-finite inputs.
    let mut nan_k = k.clone();
    nan_k[(0, 1)] = f64::NAN;
    assert!(matches!(
        KernelSolver::params().fit(&nan_k),
        Err(Error::NonFinite { .. })
    ));
    let nan_y = DMatrix::from_row_slice(2, 1, &[f64::INFINITY, 0.0]);
    assert!(matches!(
        GpInference::params().fit(&train, &nan_y),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn max_learning_rate_and_log_marginal_likelihood() {
    let (net, c) = relu_case();
    let train = TrainKernels::compute(&net, &c.x_train).unwrap();
    let n = c.y.len();
    let lr = max_learning_rate(&train.ntk, n).unwrap();
    let lmax = train.ntk.clone().symmetric_eigenvalues().max();
    assert_abs_diff_eq!(lr, 2.0 * n as f64 / lmax, epsilon = 1e-12 * lr);
    // Below the limit gradient descent f ← f − (η/N)Θ(f − Y) converges on the train set; above, it diverges.
    for (factor, converges) in [(0.9, true), (1.1, false)] {
        let eta = factor * lr;
        let mut f = DMatrix::zeros(c.y.nrows(), c.y.ncols());
        for _ in 0..2000 {
            f -= (eta / n as f64) * (&train.ntk * (&f - &c.y));
        }
        assert_eq!((&f - &c.y).amax() < 1e-3, converges, "factor {factor}");
    }
    // LML against a direct evaluation with nalgebra.
    let y = DMatrix::from_fn(c.y.nrows(), 2, |i, j| {
        c.y[(i, 0)] * (j as f64 + 1.0) - 0.1 * i as f64
    });
    let reg = Regularization::Relative(1e-3);
    let gp = GpInference::params()
        .regularization(reg)
        .fit(&train, &y)
        .unwrap();
    for kind in [KernelKind::Nngp, KernelKind::Ntk] {
        let k = if kind == KernelKind::Nngp {
            &train.nngp
        } else {
            &train.ntk
        };
        let mut kr = k.clone();
        for i in 0..kr.nrows() {
            kr[(i, i)] += gp.diag_reg(kind);
        }
        let chol = kr.clone().cholesky().unwrap();
        let logdet: f64 = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let alpha = chol.solve(&y);
        let nn = kr.nrows() as f64;
        let want = -0.5 * y.dot(&alpha)
            - y.ncols() as f64 * (0.5 * logdet + 0.5 * nn * (2.0 * std::f64::consts::PI).ln());
        let got = gp.log_marginal_likelihood(kind);
        assert!(
            abs_diff_eq!(got, want, epsilon = 1e-9 * want.abs()),
            "{kind:?}: {got} vs {want}"
        );
    }
}

/// Golden values of neural-tangents 0.6.5 (shared/notes/anchors.md §1.10, printed to 12–14 digits):
/// `gradient_descent_mse` (a single linearized network, f0 = 0, relative diag_reg 1e-3) at t = 2 and
/// t = None, `gradient_descent_mse_ensemble` (diag_reg 0) at t = None and t = 5, and
/// `max_learning_rate`. Tolerance 1e-10 relative: the values are given to ≥ 12 significant digits
/// (the covariances to 11 decimal places: ±5e-12).
#[test]
fn linearized_network_and_ensemble_match_the_golden_values() {
    use ntk::{
        EnsembleDynamics, GpInference, KernelKind, Regularization, TestKernels, TrainKernels,
    };
    let net = ntk::Network::builder()
        .dense(1.5, Some(0.05))
        .activation(ntk::Activation::Relu)
        .dense(1.5, Some(0.05))
        .activation(ntk::Activation::Relu)
        .dense(1.5, Some(0.05))
        .build()
        .unwrap();
    let x_train = DMatrix::from_row_slice(
        4,
        3,
        &[
            1.0,
            0.0,
            0.0,
            0.6,
            0.8,
            0.0,
            -0.5,
            0.5,
            std::f64::consts::FRAC_1_SQRT_2,
            0.0,
            -1.0,
            1.0,
        ],
    );
    let y = DMatrix::from_row_slice(4, 1, &[1.0, -0.5, 0.25, 0.8]);
    let x_test = DMatrix::from_row_slice(2, 3, &[0.3, -1.2, 0.4, 2.0, 0.1, -0.3]);
    let train = TrainKernels::compute(&net, &x_train).unwrap();
    let test = TestKernels::compute(&net, &x_test, &x_train).unwrap();
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            abs_diff_eq!(a, b, epsilon = 1e-10 * b.abs()),
            "{what}: {a} vs {b}"
        );
    };

    let single = EnsembleDynamics::params()
        .learning_rate(1.0)
        .regularization(Regularization::Relative(1e-3))
        .fit(&train, &y)
        .unwrap();
    let f0 = DMatrix::zeros(4, 1);
    let f0_test = DMatrix::zeros(2, 1);
    let out = single
        .linearized(
            KernelKind::Ntk,
            &f0,
            Some((&test.ntk_test_train, &f0_test)),
            &[2.0, f64::INFINITY],
        )
        .unwrap();
    let t2 = out[0].1.as_ref().unwrap();
    close(t2[0], 0.688_092_165_129_58, "f_test(2)[0]");
    close(t2[1], 1.090_929_209_240_15, "f_test(2)[1]");
    let inf = out[1].1.as_ref().unwrap();
    close(inf[0], 0.782_859_647_946_17, "f_test(∞)[0]");
    close(inf[1], 1.716_216_954_915_48, "f_test(∞)[1]");
    assert_eq!(out[1].0, y, "f_train(∞) = Y exactly");
    // With f0 = 0 the linearized network is the ensemble mean.
    let mean = single.predict(KernelKind::Ntk, &test, &[2.0]).unwrap();
    assert!((&mean[0].mean - t2).amax() <= 1e-14);
    // A nonzero f0 shifts the test outputs by f0_test − K_td K⁻¹(I − e^{−Kτ}) f0 and is kept at t = 0.
    let f0 = DMatrix::from_row_slice(4, 1, &[0.1, -0.2, 0.3, 0.05]);
    let f0_test = DMatrix::from_row_slice(2, 1, &[-0.4, 0.2]);
    let out = single
        .linearized(
            KernelKind::Ntk,
            &f0,
            Some((&test.ntk_test_train, &f0_test)),
            &[0.0, 1e12],
        )
        .unwrap();
    assert_eq!(out[0].0, f0);
    assert_eq!(out[0].1.as_ref().unwrap(), &f0_test);
    let gp = GpInference::params()
        .regularization(Regularization::Relative(1e-3))
        .fit(&train, &(&y - &f0))
        .unwrap();
    let want = &f0_test + gp.mean(KernelKind::Ntk, &test.ntk_test_train).unwrap();
    assert!((out[1].1.as_ref().unwrap() - want).amax() <= 1e-9);

    let ens = GpInference::params()
        .regularization(Regularization::Absolute(0.0))
        .fit(&train, &y)
        .unwrap();
    let p = ens.predict(KernelKind::Ntk, &test).unwrap();
    close(p.mean[0], 0.783_555_472_157_75, "ensemble ntk mean[0]");
    close(p.mean[1], 1.719_725_658_030_17, "ensemble ntk mean[1]");
    // The covariances are printed to 11 decimal places: half a unit of the last digit is 5e-12.
    for ((i, j), want) in [
        ((0, 0), 0.285_378_877_39),
        ((0, 1), 0.014_728_941_61),
        ((1, 1), 0.093_022_173_38),
    ] {
        let got = p.covariance[(i, j)];
        assert!(
            abs_diff_eq!(got, want, epsilon = 5e-12),
            "ensemble ntk cov[{i},{j}]: {got} vs {want}"
        );
    }
    let p = ens.predict(KernelKind::Nngp, &test).unwrap();
    close(p.mean[0], 0.954_325_028_491_41, "ensemble nngp mean[0]");
    close(p.mean[1], 1.840_234_693_146_81, "ensemble nngp mean[1]");
    let d = EnsembleDynamics::params()
        .learning_rate(1.0)
        .regularization(Regularization::Absolute(0.0))
        .fit(&train, &y)
        .unwrap();
    let p = d.predict(KernelKind::Ntk, &test, &[5.0]).unwrap();
    close(
        p[0].mean[0],
        0.763_704_627_597_78,
        "ensemble ntk mean(5)[0]",
    );
    close(
        p[0].mean[1],
        1.489_979_978_580_60,
        "ensemble ntk mean(5)[1]",
    );
    close(
        ntk::max_learning_rate(&train.ntk, 4).unwrap(),
        1.192_107_449_827_858,
        "max lr",
    );
}

/// The NTK posterior with the pseudo-inverse fallback (duplicated training points, no ridge: both
/// train kernels singular) against the formula written out with nalgebra's own pseudo-inverse:
/// B = Θ⁺Θ_dt, mean = Bᵀy, cov = Σ_tt + BᵀΣ_dd B − BᵀΣ_dt − Σ_td B. This is the path that keeps
/// Σ_dd (a Cholesky factor of Σ_reg gives its products otherwise). Tolerance 1e-9: two different
/// pseudo-inverses (faer's eigendecomposition with rcond 1e-12, nalgebra's SVD with 1e-12) of
/// kernels of order 1 on 6 points agree to ~1e-12, far below the 1e-9 used.
#[test]
fn pseudo_inverse_ntk_posterior_matches_the_written_out_formula() {
    let net = Network::mlp(2, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()
        .unwrap();
    let x = DMatrix::from_row_slice(
        6,
        2,
        &[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, -1.0, 0.5, 0.3, -0.7, 0.0, 1.0],
    );
    let y = DMatrix::from_row_slice(6, 1, &[0.5, -1.0, 0.5, 0.2, 0.9, -1.0]);
    let xt = DMatrix::from_row_slice(3, 2, &[0.5, 0.5, -0.2, 0.9, 2.0, -1.0]);
    let train = TrainKernels::compute(&net, &x).unwrap();
    let test = TestKernels::compute(&net, &xt, &x).unwrap();
    let gp = GpInference::params()
        .regularization(Regularization::Absolute(0.0))
        .fallback(Fallback::PseudoInverse { rcond: 1e-12 })
        .fit(&train, &y)
        .unwrap();
    assert!(gp.solver(KernelKind::Nngp).is_pseudo_inverse());
    assert!(gp.solver(KernelKind::Ntk).is_pseudo_inverse());
    let got = gp.predict(KernelKind::Ntk, &test).unwrap();
    let theta_pinv = train.ntk.clone().pseudo_inverse(1e-12).unwrap();
    let b = &theta_pinv * test.ntk_test_train.transpose();
    let mean = b.transpose() * &y;
    let cross = b.transpose() * test.nngp_test_train.transpose();
    let cov = &test.nngp_test_test + b.transpose() * &train.nngp * &b - &cross - cross.transpose();
    assert_abs_diff_eq!(got.mean, mean, epsilon = 1e-9);
    assert_abs_diff_eq!(got.covariance, cov, epsilon = 1e-9);
}
