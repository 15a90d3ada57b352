//! End-to-end tests of the `ntk` command-line tool: run the built binary on files written to a fresh
//! temporary directory and compare its JSON with the library's in-process results bit for bit.
//!
//! Numbers are read back with `str::parse::<f64>` (correctly rounded) rather than through
//! `serde_json::Value`, whose default float parser may be off by one ulp; only the shapes and keys are
//! checked via `Value`.

use nalgebra::DMatrix;
use ntk::{
    EnsembleDynamics, Gaussian, GpInference, Kernel, KernelKind, KernelMatrices, Network,
    Posterior, Regularization,
};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The README example network.
const SPEC: &str = r#"{"parameterization": "ntk", "layers": [
  {"dense": {"w_std": 1.5, "b_std": 0.1, "width": 512}}, {"relu": {}},
  {"dense": {"w_std": 1.5, "b_std": 0.1}}, {"erf": {"a": 1.0, "b": 1.0, "c": 0.0}},
  {"dense": {"w_std": 1.5}}]}"#;

/// Four points in ℝ³ with digits that do not survive a sloppy float round trip.
const POINTS_CSV: &str =
    "1.0, 2.0, 3.0\n0.1, -0.7, 0.3333333333333333\n\n-2.5, 1e-3, 0.2\n0, 0, 1\n";

/// A directory of its own per test, removed when the test ends.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(test: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ntk-cli-{}-{n}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir can be created");
        TempDir(dir)
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub(crate) fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("temp file can be written");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn ntk_cmd(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the ntk binary runs")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

pub(crate) fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "ntk failed with {:?}: {}",
        out.status,
        stderr(out)
    );
    assert!(out.stderr.is_empty(), "unexpected stderr: {}", stderr(out));
}

/// Asserts a clean failure: the exit code, `error: ` on stderr mentioning every needle, no output
/// and no panic.
pub(crate) fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
}

/// The numbers of the array under `"key"` in document order, parsed exactly.
pub(crate) fn exact_numbers(json: &str, key: &str) -> Vec<f64> {
    let start = json
        .find(&format!("\"{key}\""))
        .unwrap_or_else(|| panic!("no key {key}"));
    let open = start + json[start..].find('[').expect("an array follows the key");
    let mut depth = 0;
    let close = open
        + json[open..]
            .find(|c| {
                depth += match c {
                    '[' => 1,
                    ']' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .expect("the array is closed");
    json[open..close]
        .split(|c: char| c == '[' || c == ']' || c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<f64>()
                .unwrap_or_else(|_| panic!("`{t}` is a number"))
        })
        .collect()
}

/// Checks the output's keys and shapes, then compares every number with `expected` bit for bit.
fn assert_matches(json: &str, expected: &KernelMatrices) {
    let value: Value = serde_json::from_str(json).expect("output is JSON");
    let object = value.as_object().expect("output is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cov1", "cov2", "nngp", "ntk"]);
    let (n1, n2) = expected.nngp.shape();
    for key in ["nngp", "ntk"] {
        let rows = object[key].as_array().expect("matrix is an array of rows");
        assert_eq!(rows.len(), n1, "{key} rows");
        assert!(rows.iter().all(|r| r.as_array().map(Vec::len) == Some(n2)));
    }
    let row_major = |m: &DMatrix<f64>| m.transpose().as_slice().to_vec();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let checks = [
        ("nngp", row_major(&expected.nngp)),
        ("ntk", row_major(&expected.ntk)),
        ("cov1", expected.cov1.as_slice().to_vec()),
        ("cov2", expected.cov2.as_slice().to_vec()),
    ];
    for (key, want) in checks {
        assert_eq!(bits(&exact_numbers(json, key)), bits(&want), "{key}");
    }
}

fn points() -> DMatrix<f64> {
    ntk::io::parse_csv(POINTS_CSV, "points").unwrap()
}

fn network() -> Network {
    Network::from_json(SPEC).unwrap()
}

#[test]
fn gram_equals_the_library_bit_for_bit() {
    let dir = TempDir::new("gram");
    let spec = dir.file("net.json", SPEC);
    let x1 = dir.file("x1.csv", POINTS_CSV);
    let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1]);
    assert_success(&out);
    let json = stdout(&out);
    let expected = network().gram(&points()).unwrap();
    assert_eq!(expected.nngp.shape(), (4, 4));
    assert_matches(&json, &expected);
    let nngp = exact_numbers(&json, "nngp");
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(nngp[4 * i + j].to_bits(), nngp[4 * j + i].to_bits());
        }
    }
    assert_eq!(exact_numbers(&json, "cov1"), exact_numbers(&json, "cov2"));
}

#[test]
fn cross_with_npy_equals_the_library_bit_for_bit() {
    let dir = TempDir::new("cross");
    let x2 = DMatrix::from_row_slice(2, 3, &[0.3, -1.1, 2.0 / 3.0, 5.0, 0.0, -0.25]);
    let spec = dir.file("net.json", SPEC);
    let x1_path = dir.file("x1.csv", POINTS_CSV);
    let x2_path = dir.file("x2.npy", ntk::io::to_npy(&x2));
    // The `--flag=value` form is accepted too.
    let x2_arg = format!("--x2={}", x2_path.display());
    let out = ntk_cmd(&[&"kernel", &"--x1", &x1_path, &x2_arg, &"--spec", &spec]);
    assert_success(&out);
    let expected = network().cross(&points(), &x2).unwrap();
    assert_eq!(expected.nngp.shape(), (4, 2));
    assert_matches(&stdout(&out), &expected);
}

#[test]
fn out_writes_the_same_json_to_a_file() {
    let dir = TempDir::new("out");
    let spec = dir.file("net.json", SPEC);
    let x1 = dir.file("x1.csv", POINTS_CSV);
    let target = dir.0.join("k.json");
    let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1, &"--out", &target]);
    assert_success(&out);
    assert!(out.stdout.is_empty(), "nothing on stdout with --out");
    let written = std::fs::read_to_string(&target).expect("--out file exists");
    assert_matches(&written, &network().gram(&points()).unwrap());
    let printed = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1]);
    assert_eq!(written, stdout(&printed));
}

#[test]
fn help_goes_to_stdout_with_exit_code_zero() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["kernel", "--help"],
        &["predict", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ntk"))
            .args(args)
            .output()
            .unwrap();
        assert_success(&out);
        assert!(stdout(&out).contains("ntk kernel --spec"), "{args:?}");
        assert!(stdout(&out).contains("ntk predict --spec"), "{args:?}");
    }
}

#[test]
fn command_line_mistakes_exit_with_code_2() {
    let dir = TempDir::new("usage");
    let spec = dir.file("net.json", SPEC);
    let x1 = dir.file("x1.csv", POINTS_CSV);
    assert_fails(&ntk_cmd(&[]), 2, &["subcommand"]);
    assert_fails(&ntk_cmd(&[&"kernels"]), 2, &["kernels"]);
    assert_fails(&ntk_cmd(&[&"kernel", &"--x1", &x1]), 2, &["--spec"]);
    assert_fails(&ntk_cmd(&[&"kernel", &"--spec", &spec]), 2, &["--x1"]);
    let unknown = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1, &"--bogus"]);
    assert_fails(&unknown, 2, &["--bogus"]);
    assert_fails(&ntk_cmd(&[&"kernel", &"--spec"]), 2, &["--spec", "value"]);
    let swallowed = ntk_cmd(&[&"kernel", &"--spec", &"--x1", &x1]);
    assert_fails(&swallowed, 2, &["--spec", "value"]);
    let twice = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--spec", &spec, &"--x1", &x1]);
    assert_fails(&twice, 2, &["--spec", "multiple times"]);
    let stray = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1, &"extra"]);
    assert_fails(&stray, 2, &["extra"]);
}

/// Runs `ntk kernel` on the README spec with the given x1 (and x2) file contents.
fn run_on_points(dir: &TempDir, x1: (&str, &[u8]), x2: Option<(&str, &[u8])>) -> Output {
    let spec = dir.file("net.json", SPEC);
    let x1 = dir.file(x1.0, x1.1);
    let mut args: Vec<PathBuf> = vec!["kernel".into(), "--spec".into(), spec, "--x1".into(), x1];
    if let Some((name, contents)) = x2 {
        args.extend(["--x2".into(), dir.file(name, contents)]);
    }
    Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args(&args)
        .output()
        .unwrap()
}

#[test]
fn bad_input_files_exit_with_code_1() {
    let dir = TempDir::new("inputs");
    let ragged = run_on_points(&dir, ("ragged.csv", b"1,2\n3\n"), None);
    assert_fails(&ragged, 1, &["ragged.csv", "line 2"]);
    let text = run_on_points(&dir, ("text.csv", b"x,y\n1,2\n"), None);
    assert_fails(&text, 1, &["text.csv", "not a number"]);
    let empty = run_on_points(&dir, ("empty.csv", b""), None);
    assert_fails(&empty, 1, &["empty.csv", "no data"]);
    let nan = run_on_points(&dir, ("nan.csv", b"1,2\n3,NaN\n"), None);
    assert_fails(&nan, 1, &["--x1", "nan.csv", "NaN", "row 2, column 2"]);
    let inf = DMatrix::from_row_slice(1, 2, &[1.0, f64::INFINITY]);
    let inf_npy = run_on_points(
        &dir,
        ("x1.csv", b"1,2\n"),
        Some(("inf.npy", &ntk::io::to_npy(&inf))),
    );
    assert_fails(&inf_npy, 1, &["--x2", "inf.npy", "inf"]);
    let garbage = run_on_points(&dir, ("x1.csv", b"1,2\n"), Some(("bad.npy", b"not numpy")));
    assert_fails(&garbage, 1, &["bad.npy", ".npy"]);
    let mismatch = run_on_points(&dir, ("x1.csv", b"1,2,3\n"), Some(("x2.csv", b"1,2\n")));
    assert_fails(&mismatch, 1, &["x1", "x2", "3 columns", "2 columns"]);
    // A header may claim 2⁶⁴ − 1 points of 0 features; this must fail at once, not loop over rows.
    let huge = npy_with_shape("(18446744073709551615, 0)");
    let no_features = run_on_points(&dir, ("huge.npy", &huge), None);
    assert_fails(&no_features, 1, &["feature column"]);
    let spec = dir.file("net.json", SPEC);
    let missing = ntk_cmd(&[
        &"kernel",
        &"--spec",
        &spec,
        &"--x1",
        &dir.0.join("nope.csv"),
    ]);
    assert_fails(&missing, 1, &["nope.csv"]);
}

/// A `.npy` file with no data whose header declares `shape` (a Python tuple).
fn npy_with_shape(shape: &str) -> Vec<u8> {
    let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes
}

/// Non-UTF-8 arguments must not hit the panic in `std::env::args`.
#[cfg(unix)]
#[test]
fn non_utf8_arguments_fail_cleanly() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("utf8");
    let spec = dir.file("net.json", SPEC);
    let path = dir.0.join(OsStr::from_bytes(b"\xff.csv"));
    let missing = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &path]);
    assert_fails(&missing, 1, &["cannot read"]);
    let flag = ntk_cmd(&[&"kernel", &OsStr::from_bytes(b"--\xff")]);
    assert_fails(&flag, 2, &["unexpected argument"]);
}

/// Runs `ntk kernel` with the given spec text on a small valid CSV.
fn run_with_spec(dir: &TempDir, spec: &str) -> Output {
    let spec = dir.file("spec.json", spec);
    let x1 = dir.file("x1.csv", "1,2\n3,4\n");
    ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1])
}

#[test]
fn invalid_specs_exit_with_code_1() {
    let dir = TempDir::new("specs");
    let cases = [
        (
            r#"{"layers": [{"relu": {}}, {"dense": {"w_std": 1.0}}]}"#,
            &["spec.json", "does not follow a Dense layer"][..],
        ),
        (
            r#"{"layers": [{"dense": {"w_std": -1.0}}]}"#,
            &["layers[0].w_std", "≥ 0"],
        ),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}, {"softmax": {}}]}"#,
            &["softmax"],
        ),
        (r#"{"layers": []}"#, &["no layers"]),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}"#,
            &["spec.json", "EOF"],
        ),
        (
            r#"{"parameterization": "standard", "layers": [{"dense": {"w_std": 1.0}}, {"relu": {}}, {"dense": {"w_std": 1.0}}]}"#,
            &["width"],
        ),
    ];
    for (spec, needles) in cases {
        assert_fails(&run_with_spec(&dir, spec), 1, needles);
    }
    let missing = ntk_cmd(&[
        &"kernel",
        &"--spec",
        &dir.0.join("none.json"),
        &"--x1",
        &"x.csv",
    ]);
    assert_fails(&missing, 1, &["none.json"]);
}

#[test]
fn kernel_overflow_exits_with_code_1() {
    let dir = TempDir::new("overflow");
    let spec = dir.file(
        "exp.json",
        r#"{"layers": [{"dense": {"w_std": 1.0}}, {"exp": {}}, {"dense": {"w_std": 1.0}}]}"#,
    );
    let x1 = dir.file("x1.csv", "1000, 1000\n");
    let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1]);
    assert_fails(&out, 1, &["not finite", "exp"]);
}

#[test]
fn unwritable_out_exits_with_code_1() {
    let dir = TempDir::new("unwritable");
    let spec = dir.file("net.json", SPEC);
    let x1 = dir.file("x1.csv", POINTS_CSV);
    let target = dir.0.join("no-such-dir").join("k.json");
    let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x1, &"--out", &target]);
    assert_fails(&out, 1, &["cannot write", "k.json"]);
}

// ---------------------------------------------------------------------------------------------
// `ntk predict`

/// Training inputs (5 points in ℝ³), two-column targets and three test points.
const TRAIN_X_CSV: &str =
    "1.0, 2.0, 3.0\n0.1, -0.7, 0.3333333333333333\n-2.5, 1e-3, 0.2\n0, 0, 1\n0.5, 0.5, -0.5\n";
const TRAIN_Y_CSV: &str = "1.0, -1.0\n0.25, 0.5\n-0.7, 2.0\n0.1, 0.0\n1.5, -0.3\n";
const TEST_X_CSV: &str = "0.3, -1.1, 0.6666666666666666\n5.0, 0.0, -0.25\n0.1, 0.2, 0.3\n";

fn csv(text: &str) -> DMatrix<f64> {
    ntk::io::parse_csv(text, "inline").unwrap()
}

/// The three data files plus the spec in `dir`, as (spec, train-x, train-y, test-x) paths.
fn predict_files(dir: &TempDir) -> [PathBuf; 4] {
    [
        dir.file("net.json", SPEC),
        dir.file("x.csv", TRAIN_X_CSV),
        dir.file("y.csv", TRAIN_Y_CSV),
        dir.file("t.csv", TEST_X_CSV),
    ]
}

/// Runs `ntk predict` on the standard files with extra arguments.
fn predict_cmd(dir: &TempDir, extra: &[&str]) -> Output {
    let [spec, x, y, t] = predict_files(dir);
    let mut args: Vec<std::ffi::OsString> = vec!["predict".into()];
    for (flag, path) in [
        ("--spec", spec),
        ("--train-x", x),
        ("--train-y", y),
        ("--test-x", t),
    ] {
        args.push(flag.into());
        args.push(path.into());
    }
    args.extend(extra.iter().map(Into::into));
    Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args(&args)
        .output()
        .unwrap()
}

fn bits_of(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    m.transpose().as_slice().to_vec()
}

/// Checks keys, shapes and every number of a single-time output against `g`.
fn assert_single(json: &str, g: &Gaussian, with_cov: bool) {
    let value: Value = serde_json::from_str(json).expect("output is JSON");
    let object = value.as_object().expect("output is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let want: &[&str] = if with_cov {
        &["cov", "mean"]
    } else {
        &["mean"]
    };
    assert_eq!(keys, want);
    let rows = object["mean"].as_array().unwrap();
    assert_eq!(rows.len(), g.mean.nrows());
    assert!(
        rows.iter()
            .all(|r| r.as_array().map(Vec::len) == Some(g.mean.ncols()))
    );
    assert_eq!(
        bits_of(&exact_numbers(json, "mean")),
        bits_of(&row_major(&g.mean))
    );
    if with_cov {
        assert_eq!(
            bits_of(&exact_numbers(json, "cov")),
            bits_of(&row_major(&g.covariance))
        );
    }
}

/// Checks a several-times output: the "times" entries and one matrix per time.
fn assert_several(json: &str, times: &[&str], gs: &[Gaussian]) {
    let value: Value = serde_json::from_str(json).expect("output is JSON");
    let object = value.as_object().expect("output is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cov", "mean", "times"]);
    let written: Vec<String> = object["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| match t {
            Value::String(s) => s.clone(),
            other => other.as_f64().unwrap().to_string(),
        })
        .collect();
    assert_eq!(written, times);
    for key in ["mean", "cov"] {
        let per_time = object[key].as_array().unwrap();
        assert_eq!(per_time.len(), gs.len(), "{key}");
    }
    let flat = |pick: fn(&Gaussian) -> &DMatrix<f64>| {
        gs.iter()
            .flat_map(|g| row_major(pick(g)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bits_of(&exact_numbers(json, "mean")),
        bits_of(&flat(|g| &g.mean))
    );
    assert_eq!(
        bits_of(&exact_numbers(json, "cov")),
        bits_of(&flat(|g| &g.covariance))
    );
}

fn gp(reg: Regularization) -> GpInference {
    GpInference::params()
        .regularization(reg)
        .fit_points(&network(), &csv(TRAIN_X_CSV), &csv(TRAIN_Y_CSV))
        .unwrap()
}

#[test]
fn predict_at_infinity_equals_gp_inference_bit_for_bit() {
    let dir = TempDir::new("predict-inf");
    let out = predict_cmd(&dir, &["--cov"]);
    assert_success(&out);
    let expected = gp(Regularization::Relative(0.0))
        .predict_points(KernelKind::Ntk, &network(), &csv(TEST_X_CSV))
        .unwrap();
    assert_eq!(expected.mean.shape(), (3, 2));
    assert_single(&stdout(&out), &expected, true);
    // `--time inf` is the default; without --cov there is no "cov".
    let explicit = predict_cmd(&dir, &["--time", "inf", "--kernel", "ntk"]);
    assert_success(&explicit);
    assert_single(&stdout(&explicit), &expected, false);
}

#[test]
fn predict_nngp_and_ntkgp_with_regularization() {
    let dir = TempDir::new("predict-kinds");
    let cases = [
        (
            "nngp",
            Posterior::from(KernelKind::Nngp),
            Regularization::Relative(1e-3),
            false,
        ),
        (
            "ntkgp",
            Posterior::NtkGp,
            Regularization::Relative(1e-3),
            false,
        ),
        (
            "ntk",
            KernelKind::Ntk.into(),
            Regularization::Absolute(0.05),
            true,
        ),
        (
            "nngp",
            KernelKind::Nngp.into(),
            Regularization::Absolute(0.05),
            true,
        ),
    ];
    for (name, kind, reg, absolute) in cases {
        let (Regularization::Relative(l) | Regularization::Absolute(l)) = reg;
        let lambda = l.to_string();
        let mut extra = vec!["--kernel", name, "--diag-reg", &lambda, "--cov"];
        if absolute {
            extra.push("--diag-reg-absolute");
        }
        let out = predict_cmd(&dir, &extra);
        assert_success(&out);
        let expected = gp(reg)
            .predict_points(kind, &network(), &csv(TEST_X_CSV))
            .unwrap();
        assert_single(&stdout(&out), &expected, true);
    }
    // Absolute and relative regularization really differ.
    let rel = stdout(&predict_cmd(&dir, &["--diag-reg", "0.05"]));
    let abs = stdout(&predict_cmd(
        &dir,
        &["--diag-reg", "0.05", "--diag-reg-absolute"],
    ));
    assert_ne!(rel, abs);
}

#[test]
fn predict_at_several_times_equals_ensemble_dynamics_bit_for_bit() {
    let dir = TempDir::new("predict-times");
    let reg = Regularization::Relative(1e-4);
    for (name, kind) in [("ntk", KernelKind::Ntk), ("nngp", KernelKind::Nngp)] {
        let out = predict_cmd(
            &dir,
            &[
                "--kernel",
                name,
                "--time",
                "0",
                "--time=2.5",
                "--time",
                "inf",
                "--learning-rate",
                "0.5",
                "--diag-reg",
                "1e-4",
                "--cov",
            ],
        );
        assert_success(&out);
        let dynamics = EnsembleDynamics::params()
            .learning_rate(0.5)
            .regularization(reg)
            .fit_points(&network(), &csv(TRAIN_X_CSV), &csv(TRAIN_Y_CSV))
            .unwrap();
        let expected = dynamics
            .predict_points(
                kind,
                &network(),
                &csv(TEST_X_CSV),
                &[0.0, 2.5, f64::INFINITY],
            )
            .unwrap();
        assert_eq!(expected[0].mean.amax(), 0.0);
        assert_several(&stdout(&out), &["0", "2.5", "inf"], &expected);
        // The t = ∞ entry agrees with GpInference to rounding.
        let at_inf = gp(reg)
            .predict_points(kind, &network(), &csv(TEST_X_CSV))
            .unwrap();
        assert!((&expected[2].mean - &at_inf.mean).amax() < 1e-8);
    }
    // A single finite time gives the single-time layout.
    let one = predict_cmd(&dir, &["--time", "3"]);
    assert_success(&one);
    let dynamics = EnsembleDynamics::params()
        .learning_rate(1.0)
        .regularization(Regularization::Relative(0.0))
        .fit_points(&network(), &csv(TRAIN_X_CSV), &csv(TRAIN_Y_CSV))
        .unwrap();
    let expected = dynamics
        .predict_points(KernelKind::Ntk, &network(), &csv(TEST_X_CSV), &[3.0])
        .unwrap();
    assert_single(&stdout(&one), &expected[0], false);
}

#[test]
fn predict_out_writes_the_same_json_to_a_file() {
    let dir = TempDir::new("predict-out");
    let target = dir.0.join("p.json");
    let target_arg = format!("--out={}", target.display());
    let out = predict_cmd(&dir, &["--cov", &target_arg]);
    assert_success(&out);
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written, stdout(&predict_cmd(&dir, &["--cov"])));
}

#[test]
fn predict_command_line_mistakes_exit_with_code_2() {
    let dir = TempDir::new("predict-usage");
    let cases: [(&[&str], &[&str]); 14] = [
        (&["--kernel", "gp"], &["gp", "nngp, ntk, ntkgp"]),
        (&["--kernel", "ntkgp", "--time", "1"], &["ntkgp", "inf"]),
        (
            &["--kernel", "ntkgp", "--time", "inf", "--time", "0"],
            &["ntkgp"],
        ),
        (&["--time", "-1"], &["--time", "≥ 0", "-1"]),
        (&["--time", "soon"], &["--time", "soon"]),
        (&["--time", "NaN"], &["--time", "NaN"]),
        (&["--time"], &["--time", "value"]),
        (&["--learning-rate", "0"], &["--learning-rate", "> 0"]),
        (&["--diag-reg", "-1"], &["--diag-reg", "≥ 0"]),
        (&["--diag-reg", "inf"], &["--diag-reg"]),
        (&["--cov=yes"], &["--cov", "unexpected value"]),
        (&["--cov", "--cov"], &["--cov", "multiple times"]),
        (&["--x1", "a.csv"], &["--x1", "ntk predict"]),
        (&["stray"], &["stray", "--train-x"]),
    ];
    for (extra, needles) in cases {
        assert_fails(&predict_cmd(&dir, extra), 2, needles);
    }
    let [spec, x, y, _] = predict_files(&dir);
    let missing = ntk_cmd(&[
        &"predict",
        &"--spec",
        &spec,
        &"--train-x",
        &x,
        &"--train-y",
        &y,
    ]);
    assert_fails(&missing, 2, &["--test-x"]);
    let no_y = ntk_cmd(&[&"predict", &"--spec", &spec, &"--train-x", &x]);
    assert_fails(&no_y, 2, &["--train-y"]);
    assert_fails(&ntk_cmd(&[&"predict"]), 2, &["--spec"]);
}

#[test]
fn predict_bad_inputs_exit_with_code_1() {
    let dir = TempDir::new("predict-inputs");
    let [spec, x, _, t] = predict_files(&dir);
    let run = |y: &PathBuf, t: &PathBuf| {
        ntk_cmd(&[
            &"predict",
            &"--spec",
            &spec,
            &"--train-x",
            &x,
            &"--train-y",
            y,
            &"--test-x",
            t,
        ])
    };
    let short_y = dir.file("short.csv", "1\n2\n3\n");
    assert_fails(
        &run(&short_y, &t),
        1,
        &["--train-y", "short.csv", "5 rows", "3 rows"],
    );
    let y = dir.file("y1.csv", "1\n2\n3\n4\n5\n");
    let narrow = dir.file("narrow.csv", "1, 2\n");
    assert_fails(
        &run(&y, &narrow),
        1,
        &["--test-x", "narrow.csv", "3 columns", "2 columns"],
    );
    let nan_y = dir.file("nan.csv", "1\n2\nNaN\n4\n5\n");
    assert_fails(&run(&nan_y, &t), 1, &["--train-y", "NaN", "row 3"]);
    assert_fails(&run(&dir.0.join("none.csv"), &t), 1, &["none.csv"]);
    // One-column targets work.
    assert_success(&run(&y, &t));
}

const SIGMOID_SPEC: &str = r#"{"layers": [{"dense": {"w_std": 1.0}}, {"sigmoid_erf": {}},
  {"dense": {"w_std": 1.0}}]}"#;

#[test]
fn jacobian_matches_the_library_bit_for_bit() {
    use ntk::jacobian::{Spectrum, TrainedMap};
    let dir = TempDir::new("jacobian");
    let spec = dir.file("net.json", SIGMOID_SPEC);
    let x_csv = "6, 0, 0, 1\n0, 5, 1, 0\n1, 0, -6, 0\n";
    let x = dir.file("x.csv", x_csv);
    let at = dir.file("at.csv", "0.5, 1, -1, 2\n");
    let net = Network::from_json(SIGMOID_SPEC).unwrap();
    let xm = DMatrix::from_row_slice(3, 4, &[6., 0., 0., 1., 0., 5., 1., 0., 1., 0., -6., 0.]);
    let map = TrainedMap::params().autoencoder(&net, &xm).unwrap();
    // Default: at the training points.
    let out = ntk_cmd(&[&"jacobian", &"--spec", &spec, &"--train-x", &x]);
    assert_success(&out);
    let json = stdout(&out);
    let value: Value = serde_json::from_str(&json).unwrap();
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "eigenvalues",
            "jacobians",
            "operator_norm",
            "spectral_radius"
        ]
    );
    let jac = exact_numbers(&json, "jacobians");
    let radius = exact_numbers(&json, "spectral_radius");
    let eig = exact_numbers(&json, "eigenvalues");
    assert_eq!(jac.len(), 3 * 16);
    assert_eq!(eig.len(), 3 * 4 * 2);
    for i in 0..3 {
        let j = map
            .jacobian(&xm.row(i).iter().copied().collect::<Vec<_>>())
            .unwrap();
        assert_eq!(&jac[16 * i..16 * (i + 1)], row_major(&j).as_slice());
        let s = Spectrum::of(&j).unwrap();
        assert_eq!(radius[i], s.spectral_radius());
        assert_eq!(eig[8 * i], s.eigenvalues[0].re);
    }
    // At given points, at a finite time with ridge, written to a file.
    let out_path = dir.0.join("out.json");
    let out = ntk_cmd(&[
        &"jacobian",
        &"--spec",
        &spec,
        &"--train-x",
        &x,
        &"--at",
        &at,
        &"--time",
        &"5",
        &"--learning-rate=0.5",
        &"--diag-reg",
        &"1e-3",
        &"--out",
        &out_path,
    ]);
    assert_success(&out);
    let json = std::fs::read_to_string(&out_path).unwrap();
    let options = TrainedMap::params()
        .regularization(Regularization::Relative(1e-3))
        .training(ntk::jacobian::Training::Time {
            t: 5.0,
            learning_rate: 0.5,
        });
    let map = options.autoencoder(&net, &xm).unwrap();
    let j = map.jacobian(&[0.5, 1.0, -1.0, 2.0]).unwrap();
    assert_eq!(exact_numbers(&json, "jacobians"), row_major(&j));
}

#[test]
fn jacobian_errors() {
    let dir = TempDir::new("jacobian-errors");
    let relu = dir.file(
        "relu.json",
        r#"{"layers": [{"dense": {"w_std": 1.4}}, {"relu": {}}, {"dense": {"w_std": 1.0}}]}"#,
    );
    let x = dir.file("x.csv", "1, 0\n0, 2\n");
    // The ReLU NTK has no derivative at a training point: a clean error, exit 1.
    assert_fails(
        &ntk_cmd(&[&"jacobian", &"--spec", &relu, &"--train-x", &x]),
        1,
        &["not differentiable", "training point 0", "relu"],
    );
    let at = dir.file("at.csv", "0.3, 0.4\n");
    assert_success(&ntk_cmd(&[
        &"jacobian",
        &"--spec",
        &relu,
        &"--train-x",
        &x,
        &"--at",
        &at,
    ]));
    let wide = dir.file("wide.csv", "1, 2, 3\n");
    assert_fails(
        &ntk_cmd(&[
            &"jacobian",
            &"--spec",
            &relu,
            &"--train-x",
            &x,
            &"--at",
            &wide,
        ]),
        1,
        &["--at", "2 columns"],
    );
    assert_fails(
        &ntk_cmd(&[
            &"jacobian",
            &"--spec",
            &relu,
            &"--train-x",
            &x,
            &"--time",
            &"-1",
        ]),
        2,
        &["--time"],
    );
    assert_fails(
        &ntk_cmd(&[&"jacobian", &"--spec", &relu]),
        2,
        &["--train-x"],
    );
    assert_fails(
        &ntk_cmd(&[&"jacobian", &"--spec", &relu, &"--train-x", &x, &"--bogus"]),
        2,
        &["--bogus"],
    );
}

// ---------------------------------------------------------------------------------------------
// `.npz` output and `--help`

/// One array of an `.npz` file: its shape and its values in C order, as the `npyz` and `zip` crates
/// read them back (independently of `ntk::io`'s writer).
#[derive(Debug)]
pub(crate) enum NpzArray {
    F64(Vec<u64>, Vec<f64>),
    C128(Vec<u64>, Vec<nalgebra::Complex<f64>>),
}

impl NpzArray {
    pub(crate) fn shape(&self) -> &[u64] {
        match self {
            NpzArray::F64(shape, _) | NpzArray::C128(shape, _) => shape,
        }
    }

    pub(crate) fn f64_bits(&self) -> Vec<u64> {
        match self {
            NpzArray::F64(_, v) => bits_of(v),
            NpzArray::C128(..) => panic!("a float64 array expected, found complex128"),
        }
    }
}

/// The arrays of the `.npz` file at `path` by name, in the archive's order. Each member must be a
/// C-order `.npy` of float64 or complex128, as numpy's `np.savez` writes them.
pub(crate) fn read_npz(path: &std::path::Path) -> Vec<(String, NpzArray)> {
    let file = std::fs::File::open(path).expect("the .npz file exists");
    let mut archive = zip::ZipArchive::new(file).expect("the .npz file is a zip archive");
    (0..archive.len())
        .map(|i| {
            let mut member = archive.by_index(i).unwrap();
            let name = member
                .name()
                .strip_suffix(".npy")
                .expect("members are named <array>.npy")
                .to_string();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut member, &mut bytes).unwrap();
            let npy = npyz::NpyFile::new(&bytes[..]).expect("each member is a .npy file");
            assert_eq!(npy.order(), npyz::Order::C, "{name}");
            let shape = npy.shape().to_vec();
            let array = match npy.dtype().descr().as_str() {
                "'<f8'" => NpzArray::F64(shape, npy.into_vec().unwrap()),
                "'<c16'" => NpzArray::C128(shape, npy.into_vec().unwrap()),
                other => panic!("{name}: unexpected dtype {other}"),
            };
            (name, array)
        })
        .collect()
}

/// The array names of an `.npz` file, in order.
fn npz_names(arrays: &[(String, NpzArray)]) -> Vec<&str> {
    arrays.iter().map(|(name, _)| name.as_str()).collect()
}

/// The keys of a JSON object output, in order.
fn json_keys(json: &str) -> Vec<String> {
    // serde_json's `Map` sorts its keys, so the document order is read from the text: each key is
    // the first string on a line indented by two spaces.
    let value: Value = serde_json::from_str(json).expect("output is JSON");
    let keys: Vec<String> = json
        .lines()
        .filter_map(|line| line.strip_prefix("  \""))
        .filter_map(|rest| rest.split_once("\":"))
        .map(|(key, _)| key.to_string())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    let mut object_keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    object_keys.sort_unstable();
    assert_eq!(sorted, object_keys, "top-level keys read from the text");
    keys
}

#[test]
fn kernel_npz_equals_the_library_bit_for_bit() {
    let dir = TempDir::new("kernel-npz");
    let spec = dir.file("net.json", SPEC);
    let x1 = dir.file("x1.csv", POINTS_CSV);
    let x2 = DMatrix::from_row_slice(2, 3, &[0.3, -1.1, 2.0 / 3.0, 5.0, 0.0, -0.25]);
    let x2_path = dir.file("x2.npy", ntk::io::to_npy(&x2));
    for cross in [false, true] {
        let target = dir.0.join(format!("k{cross}.npz"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"kernel", &"--spec", &spec, &"--x1", &x1, &"--out", &target];
        if cross {
            args.extend([&"--x2" as &dyn AsRef<std::ffi::OsStr>, &x2_path]);
        }
        let out = ntk_cmd(&args);
        assert_success(&out);
        assert!(out.stdout.is_empty(), "nothing on stdout with --out");
        let expected = if cross {
            network().cross(&points(), &x2).unwrap()
        } else {
            network().gram(&points()).unwrap()
        };
        let arrays = read_npz(&target);
        assert_eq!(npz_names(&arrays), ["nngp", "ntk", "cov1", "cov2"]);
        let (n1, n2) = expected.nngp.shape();
        let want = [
            (vec![n1 as u64, n2 as u64], row_major(&expected.nngp)),
            (vec![n1 as u64, n2 as u64], row_major(&expected.ntk)),
            (vec![n1 as u64], expected.cov1.as_slice().to_vec()),
            (vec![n2 as u64], expected.cov2.as_slice().to_vec()),
        ];
        for ((name, array), (shape, values)) in arrays.iter().zip(want) {
            assert_eq!(array.shape(), shape.as_slice(), "{name}");
            assert_eq!(array.f64_bits(), bits_of(&values), "{name}");
        }
        // The JSON output has the same keys in the same order.
        let mut json_args = args.clone();
        json_args.retain(|a| a.as_ref() != "--out" && a.as_ref() != target.as_os_str());
        let json = stdout(&ntk_cmd(&json_args));
        assert_eq!(json_keys(&json), npz_names(&arrays));
    }
    // The extension decides the format, whatever its case; any other name gets JSON.
    let upper = dir.0.join("K.NPZ");
    assert_success(&ntk_cmd(&[
        &"kernel", &"--spec", &spec, &"--x1", &x1, &"--out", &upper,
    ]));
    assert_eq!(
        npz_names(&read_npz(&upper)),
        ["nngp", "ntk", "cov1", "cov2"]
    );
    let json = dir.0.join("k.npz.json");
    assert_success(&ntk_cmd(&[
        &"kernel", &"--spec", &spec, &"--x1", &x1, &"--out", &json,
    ]));
    assert_matches(
        &std::fs::read_to_string(&json).unwrap(),
        &network().gram(&points()).unwrap(),
    );
}

#[test]
fn predict_npz_equals_the_library_bit_for_bit() {
    let dir = TempDir::new("predict-npz");
    let target = dir.0.join("p.npz");
    let out_arg = format!("--out={}", target.display());
    // One time: `mean` and `cov` as matrices.
    let out = predict_cmd(
        &dir,
        &["--kernel", "nngp", "--diag-reg", "1e-3", "--cov", &out_arg],
    );
    assert_success(&out);
    let expected = gp(Regularization::Relative(1e-3))
        .predict_points(KernelKind::Nngp, &network(), &csv(TEST_X_CSV))
        .unwrap();
    let arrays = read_npz(&target);
    assert_eq!(npz_names(&arrays), ["mean", "cov"]);
    assert_eq!(arrays[0].1.shape(), [3, 2]);
    assert_eq!(arrays[0].1.f64_bits(), bits_of(&row_major(&expected.mean)));
    assert_eq!(arrays[1].1.shape(), [3, 3]);
    assert_eq!(
        arrays[1].1.f64_bits(),
        bits_of(&row_major(&expected.covariance))
    );
    // Without --cov there is no `cov`.
    assert_success(&predict_cmd(
        &dir,
        &["--kernel", "nngp", "--diag-reg", "1e-3", &out_arg],
    ));
    assert_eq!(npz_names(&read_npz(&target)), ["mean"]);
    // Several times: `times` (with +inf), and `mean` and `cov` stacked with the time first.
    let times = ["--time", "0", "--time=2.5", "--time", "inf"];
    let mut args = times.to_vec();
    args.extend([
        "--learning-rate",
        "0.5",
        "--diag-reg",
        "1e-4",
        "--cov",
        &out_arg,
    ]);
    assert_success(&predict_cmd(&dir, &args));
    let dynamics = EnsembleDynamics::params()
        .learning_rate(0.5)
        .regularization(Regularization::Relative(1e-4))
        .fit_points(&network(), &csv(TRAIN_X_CSV), &csv(TRAIN_Y_CSV))
        .unwrap();
    let expected = dynamics
        .predict_points(
            KernelKind::Ntk,
            &network(),
            &csv(TEST_X_CSV),
            &[0.0, 2.5, f64::INFINITY],
        )
        .unwrap();
    let arrays = read_npz(&target);
    assert_eq!(npz_names(&arrays), ["times", "mean", "cov"]);
    assert_eq!(arrays[0].1.shape(), [3]);
    assert_eq!(arrays[0].1.f64_bits(), bits_of(&[0.0, 2.5, f64::INFINITY]));
    let stacked = |pick: fn(&Gaussian) -> &DMatrix<f64>| {
        expected
            .iter()
            .flat_map(|g| row_major(pick(g)))
            .collect::<Vec<_>>()
    };
    assert_eq!(arrays[1].1.shape(), [3, 3, 2]);
    assert_eq!(arrays[1].1.f64_bits(), bits_of(&stacked(|g| &g.mean)));
    assert_eq!(arrays[2].1.shape(), [3, 3, 3]);
    assert_eq!(arrays[2].1.f64_bits(), bits_of(&stacked(|g| &g.covariance)));
    args.retain(|a| *a != out_arg);
    let json = stdout(&predict_cmd(&dir, &args));
    assert_eq!(json_keys(&json), npz_names(&arrays));
}

#[test]
fn jacobian_npz_equals_the_library_bit_for_bit() {
    use ntk::jacobian::{Spectrum, TrainedMap};
    let dir = TempDir::new("jacobian-npz");
    let spec = dir.file("net.json", SIGMOID_SPEC);
    let x = dir.file("x.csv", "6, 0, 0, 1\n0, 5, 1, 0\n1, 0, -6, 0\n");
    let at = dir.file("at.csv", "0.5, 1, -1, 2\n-1, 0.25, 3, 0\n");
    let target = dir.0.join("j.npz");
    let out = ntk_cmd(&[
        &"jacobian",
        &"--spec",
        &spec,
        &"--train-x",
        &x,
        &"--at",
        &at,
        &"--out",
        &target,
    ]);
    assert_success(&out);
    let net = Network::from_json(SIGMOID_SPEC).unwrap();
    let xm = DMatrix::from_row_slice(3, 4, &[6., 0., 0., 1., 0., 5., 1., 0., 1., 0., -6., 0.]);
    let map = TrainedMap::params().autoencoder(&net, &xm).unwrap();
    let points = [[0.5, 1.0, -1.0, 2.0], [-1.0, 0.25, 3.0, 0.0]];
    let js: Vec<DMatrix<f64>> = points.iter().map(|p| map.jacobian(p).unwrap()).collect();
    let spectra: Vec<Spectrum> = js.iter().map(|j| Spectrum::of(j).unwrap()).collect();
    let arrays = read_npz(&target);
    assert_eq!(
        npz_names(&arrays),
        [
            "jacobians",
            "eigenvalues",
            "spectral_radius",
            "operator_norm"
        ]
    );
    assert_eq!(arrays[0].1.shape(), [2, 4, 4]);
    let flat: Vec<f64> = js.iter().flat_map(row_major).collect();
    assert_eq!(arrays[0].1.f64_bits(), bits_of(&flat));
    let NpzArray::C128(shape, eigenvalues) = &arrays[1].1 else {
        panic!("eigenvalues are complex128: {:?}", arrays[1].1);
    };
    assert_eq!(shape, &[2, 4]);
    let want: Vec<_> = spectra.iter().flat_map(|s| s.eigenvalues.clone()).collect();
    let complex_bits = |z: &[nalgebra::Complex<f64>]| {
        z.iter()
            .map(|z| (z.re.to_bits(), z.im.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(complex_bits(eigenvalues), complex_bits(&want));
    let radius: Vec<f64> = spectra.iter().map(Spectrum::spectral_radius).collect();
    let norm: Vec<f64> = spectra.iter().map(Spectrum::operator_norm).collect();
    assert_eq!(arrays[2].1.shape(), [2]);
    assert_eq!(arrays[2].1.f64_bits(), bits_of(&radius));
    assert_eq!(arrays[3].1.shape(), [2]);
    assert_eq!(arrays[3].1.f64_bits(), bits_of(&norm));
    let json = stdout(&ntk_cmd(&[
        &"jacobian",
        &"--spec",
        &spec,
        &"--train-x",
        &x,
        &"--at",
        &at,
    ]));
    assert_eq!(json_keys(&json), npz_names(&arrays));
}

#[test]
fn each_subcommand_help_mentions_each_of_its_flags() {
    let flags: [(&str, &[&str]); 3] = [
        ("kernel", &["--spec", "--x1", "--x2", "--out"]),
        (
            "predict",
            &[
                "--spec",
                "--train-x",
                "--train-y",
                "--test-x",
                "--kernel",
                "--time",
                "--learning-rate",
                "--diag-reg",
                "--diag-reg-absolute",
                "--cov",
                "--out",
            ],
        ),
        (
            "jacobian",
            &[
                "--spec",
                "--train-x",
                "--at",
                "--time",
                "--learning-rate",
                "--diag-reg",
                "--diag-reg-absolute",
                "--out",
            ],
        ),
    ];
    for (sub, flags) in flags {
        for help in [&[sub, "--help"][..], &[sub, "-h"], &["help", sub]] {
            let out = Command::new(env!("CARGO_BIN_EXE_ntk"))
                .args(help)
                .output()
                .unwrap();
            assert_success(&out);
            let text = stdout(&out);
            for flag in flags {
                // As a flag of its own, not as the prefix of a longer one (`--diag-reg-absolute`).
                let listed = text
                    .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == '=')
                    .any(|word| word == *flag);
                assert!(
                    listed,
                    "`ntk {}` does not list {flag}:\n{text}",
                    help.join(" ")
                );
            }
        }
    }
}

#[test]
fn usage_errors_of_every_subcommand_exit_with_code_2() {
    let dir = TempDir::new("usage-all");
    let spec = dir.file("net.json", SPEC);
    let x = dir.file("x.csv", POINTS_CSV);
    // A flag of another subcommand, a missing value, and a repeated single-valued flag.
    assert_fails(
        &ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x, &"--cov"]),
        2,
        &["--cov"],
    );
    assert_fails(
        &ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &x, &"--out"]),
        2,
        &["--out", "value"],
    );
    assert_fails(&predict_cmd(&dir, &["--kernel"]), 2, &["--kernel", "value"]);
    assert_fails(
        &predict_cmd(&dir, &["--learning-rate", "1", "--learning-rate", "2"]),
        2,
        &["--learning-rate", "multiple times"],
    );
    let jacobian = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "jacobian".into(),
            "--spec".into(),
            spec.clone().into(),
            "--train-x".into(),
            x.clone().into(),
        ];
        args.extend(extra.iter().map(Into::into));
        Command::new(env!("CARGO_BIN_EXE_ntk"))
            .args(&args)
            .output()
            .unwrap()
    };
    assert_fails(
        &jacobian(&["--time", "1", "--time", "2"]),
        2,
        &["--time", "multiple times"],
    );
    assert_fails(&jacobian(&["--kernel", "ntk"]), 2, &["--kernel"]);
    assert_fails(
        &jacobian(&["--learning-rate", "-1"]),
        2,
        &["--learning-rate", "> 0"],
    );
    assert_fails(&jacobian(&["--diag-reg", "x"]), 2, &["--diag-reg", "x"]);
}

/// A `.npy` of shape `shape` holding `values` (C order, float64).
fn npy_array(shape: &[usize], values: &[f64], fortran: bool) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let order = if fortran { "True" } else { "False" };
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': {order}, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

/// Image inputs: a (n, H, W, C) `.npy` in C or Fortran order gives the library's kernel of the
/// flattened rows bit for bit, as does CSV with one flattened image per row; a shape that is not the
/// spec's input_shape is a clear error.
#[test]
fn image_inputs_from_npy_and_csv() {
    let dir = TempDir::new("images");
    let spec = r#"{"input_shape": [3, 2, 2], "layers": [
        {"conv": {"w_std": 1.5, "b_std": 0.1, "filter_shape": [2, 2]}}, {"relu": {}},
        {"global_avg_pool": {}}, {"dense": {"w_std": 1.5}}]}"#;
    let net = Network::from_json(spec).unwrap();
    let spec = dir.file("cnn.json", spec);
    let x = DMatrix::from_fn(3, 12, |i, j| ((i * 12 + j) as f64 * 0.37).sin());
    let expected = net.gram(&x).unwrap();
    // C order: each image's values in (h, w, c) order.
    let c_order: Vec<f64> = (0..3)
        .flat_map(|i| x.row(i).iter().copied().collect::<Vec<_>>())
        .collect();
    // Fortran order: the first axis fastest.
    let mut f_order = vec![0.0; 36];
    for i in 0..3 {
        for (m, v) in x.row(i).iter().enumerate() {
            let (h, w, c) = (m / 4, (m / 2) % 2, m % 2);
            f_order[i + 3 * (h + 3 * (w + 2 * c))] = *v;
        }
    }
    let csv: String = (0..3)
        .map(|i| {
            let row: Vec<String> = x.row(i).iter().map(|v| format!("{v:?}")).collect();
            row.join(",") + "\n"
        })
        .collect();
    for (name, bytes) in [
        ("c.npy", npy_array(&[3, 3, 2, 2], &c_order, false)),
        ("f.npy", npy_array(&[3, 3, 2, 2], &f_order, true)),
        ("x.csv", csv.into_bytes()),
    ] {
        let path = dir.file(name, bytes);
        let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &path]);
        assert_success(&out);
        assert_matches(&stdout(&out), &expected);
    }
    let wrong = dir.file("wrong.npy", npy_array(&[3, 2, 3, 2], &c_order, false));
    let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &wrong]);
    assert_fails(
        &out,
        1,
        &["--x1", "wrong.npy", "[2, 3, 2]", "input_shape [3, 2, 2]"],
    );
    let flat = dir.file("flat.csv", "1,2,3\n");
    let out = ntk_cmd(&[&"kernel", &"--spec", &spec, &"--x1", &flat]);
    assert_fails(&out, 1, &["--x1", "flat.csv", "[12]"]);
}

/// `ntk predict` on image inputs gives the library's GP mean of the CNTK bit for bit.
#[test]
fn predict_with_a_cntk() {
    let dir = TempDir::new("predict-cnn");
    let spec = r#"{"input_shape": [4, 4, 1], "layers": [
        {"conv": {"w_std": 1.4, "b_std": 0.1, "filter_shape": [3, 3]}}, {"erf": {}},
        {"flatten": {}}, {"dense": {"w_std": 1.4}}]}"#;
    let net = Network::from_json(spec).unwrap();
    let spec = dir.file("cnn.json", spec);
    let x = DMatrix::from_fn(6, 16, |i, j| ((i * 16 + j) as f64 * 0.61).cos());
    let t = DMatrix::from_fn(2, 16, |i, j| ((i * 16 + j) as f64 * 0.29).sin());
    let y = DMatrix::from_fn(6, 1, |i, _| i as f64 - 2.0);
    let (xp, tp, yp) = (
        dir.file("x.npy", ntk::io::to_npy(&x)),
        dir.file("t.npy", ntk::io::to_npy(&t)),
        dir.file("y.npy", ntk::io::to_npy(&y)),
    );
    let out = ntk_cmd(&[
        &"predict",
        &"--spec",
        &spec,
        &"--train-x",
        &xp,
        &"--train-y",
        &yp,
        &"--test-x",
        &tp,
        &"--kernel",
        &"ntk",
    ]);
    assert_success(&out);
    let gp = GpInference::params().fit_points(&net, &x, &y).unwrap();
    let want = gp.predict_points(KernelKind::Ntk, &net, &t).unwrap().mean;
    let got = exact_numbers(&stdout(&out), "mean");
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(want.iter()) {
        assert_eq!(g.to_bits(), w.to_bits(), "{g} vs {w}");
    }
}
