//! Tiles of the Gram matrix (`Network::gram_tile`, `ntk kernel --rows --cols`): every grid of tiles
//! reassembles `Kernel::gram` bit for bit (`==` on the f64 bits, not a tolerance: a cluster job
//! must give the numbers the whole matrix would), for fully connected networks with closed-form
//! and quadrature duals, duplicated rows, more features than a GEMM k-block, and a CNN; tiles of a
//! cross matrix likewise; and bad ranges fail with errors that say what a range is.

use super::cli::{TempDir, assert_fails, assert_success, exact_numbers, ntk_cmd, read_npz, stdout};
use super::common::XorShift;
use nalgebra::{DMatrix, DMatrixView};
use ntk::{Activation, Error, Kernel, KernelKind, Network};
use std::ops::Range;

/// The first entry whose bits differ, if any.
fn first_difference(a: &DMatrix<f64>, b: DMatrixView<f64>) -> Option<(usize, usize, f64, f64)> {
    assert_eq!(a.shape(), b.shape());
    (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| (i, j)))
        .find(|&(i, j)| a[(i, j)].to_bits() != b[(i, j)].to_bits())
        .map(|(i, j)| (i, j, a[(i, j)], b[(i, j)]))
}

/// `parts` random cut points of 0..n (sorted, distinct, with 0 and n): a grid of ranges of random
/// sizes, single points included when two cuts are adjacent.
fn random_cuts(rng: &mut XorShift, n: usize, parts: usize) -> Vec<Range<usize>> {
    let mut cuts: Vec<usize> = (0..parts - 1)
        .map(|_| 1 + (rng.next_u64() % (n as u64 - 1)) as usize)
        .collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Tiles over a random grid (and a few fixed single-entry and straddling ones) reassemble the
/// Gram matrix bit for bit; the one-kernel tiles agree with the two-kernel ones.
fn assert_tiles_reassemble(net: &Network, x: &DMatrix<f64>, seed: u64, what: &str) {
    let n = x.nrows();
    let full = net.gram(x).unwrap();
    let mut rng = XorShift::new(seed);
    let (row_cuts, col_cuts) = (random_cuts(&mut rng, n, 5), random_cuts(&mut rng, n, 4));
    let mut nngp = DMatrix::from_element(n, n, f64::NAN);
    let mut ntk = DMatrix::from_element(n, n, f64::NAN);
    for rows in &row_cuts {
        for cols in &col_cuts {
            let t = net.gram_tile(x, rows.clone(), cols.clone()).unwrap();
            let at = (rows.start, cols.start);
            nngp.view_mut(at, (rows.len(), cols.len()))
                .copy_from(&t.nngp);
            ntk.view_mut(at, (rows.len(), cols.len())).copy_from(&t.ntk);
            assert_eq!(t.cov1, full.cov1.rows(rows.start, rows.len()), "{what}");
            assert_eq!(t.cov2, full.cov1.rows(cols.start, cols.len()), "{what}");
        }
    }
    let all = (0, 0);
    for (name, tiled, whole) in [("nngp", &nngp, &full.nngp), ("ntk", &ntk, &full.ntk)] {
        let diff = first_difference(tiled, whole.view(all, (n, n)));
        assert_eq!(
            diff, None,
            "{what}: {name} (row, col, tile, gram), cuts {row_cuts:?} × {col_cuts:?}"
        );
    }
    // Single entries in every position of a lane group, and blocks across the diagonal.
    let extra = [
        (n - 1..n, 0..1),
        (0..1, n - 1..n),
        (3..4, 3..4),
        (1..n, 0..n - 1),
        (0..n, 0..n),
    ];
    for (rows, cols) in extra {
        let view = |m: &DMatrix<f64>| {
            m.view((rows.start, cols.start), (rows.len(), cols.len()))
                .into_owned()
        };
        let t = net.gram_tile(x, rows.clone(), cols.clone()).unwrap();
        assert_eq!(
            first_difference(
                &t.nngp,
                full.nngp.view((rows.start, cols.start), t.nngp.shape())
            ),
            None,
            "{what} {rows:?}×{cols:?}"
        );
        assert_eq!(
            first_difference(&t.ntk, view(&full.ntk).columns(0, cols.len())),
            None,
            "{what} {rows:?}×{cols:?}"
        );
        let only = net
            .gram_tile_kind(x, rows.clone(), cols.clone(), KernelKind::Ntk)
            .unwrap();
        assert_eq!(
            first_difference(&only, t.ntk.columns(0, cols.len())),
            None,
            "{what} NTK only"
        );
        let only = net
            .gram_tile_kind(x, rows.clone(), cols.clone(), KernelKind::Nngp)
            .unwrap();
        assert_eq!(
            first_difference(&only, t.nngp.columns(0, cols.len())),
            None,
            "{what} NNGP only"
        );
    }
    assert_progress_counts_entries(net, x);
}

/// `gram_tile_with_progress` counts every entry of the tile once.
fn assert_progress_counts_entries(net: &Network, x: &DMatrix<f64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let n = x.nrows();
    for (rows, cols) in [(1..n, 0..n - 1), (0..2, 3..n), (4..n, 0..3)] {
        let done = AtomicU64::new(0);
        let expect = (rows.len() * cols.len()) as u64;
        net.gram_tile_with_progress(x, rows, cols, &|k| {
            done.fetch_add(k, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(done.into_inner(), expect);
    }
}

/// n ≥ 9 points with duplicated rows (so `gram` takes the variance for those pairs) and a zero row.
fn points_with_duplicates(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = XorShift::new(seed);
    let mut x = DMatrix::from_fn(n, d, |_, _| rng.normal());
    for (from, to) in [(3, n - 1), (1, n / 2), (n / 2 + 1, n / 2 + 2)] {
        let row = x.row(from).into_owned();
        x.row_mut(to).copy_from(&row);
    }
    x.row_mut(7).fill(0.0);
    x
}

fn depth3(activation: Activation) -> Network {
    Network::mlp(3, activation)
        .w_std(1.5)
        .b_std(0.1)
        .build()
        .unwrap()
}

/// n = 37 (not a multiple of the 8 lanes), d = 5, depth 3: ReLU, Erf, and tanh (quadrature).
#[test]
fn fully_connected_tiles_reassemble_the_gram_matrix_bit_for_bit() {
    let x = points_with_duplicates(37, 5, 1);
    let erf = Activation::Erf {
        a: 1.0,
        b: 1.0,
        c: 0.0,
    };
    for (k, act) in [Activation::Relu, erf, Activation::Tanh]
        .into_iter()
        .enumerate()
    {
        let what = format!("{act:?}");
        assert_tiles_reassemble(&depth3(act), &x, 10 + k as u64, &what);
    }
}

/// 300 features (more than matrixmultiply's k-block of 256, where its GEMM adds partial sums with
/// and without FMA depending on the micro-tile) and d = 3 (below nalgebra's GEMM threshold of 5).
#[test]
fn tiles_are_exact_for_many_and_few_features() {
    let net = depth3(Activation::Relu);
    assert_tiles_reassemble(&net, &points_with_duplicates(29, 300, 2), 20, "d = 300");
    assert_tiles_reassemble(&net, &points_with_duplicates(26, 3, 3), 21, "d = 3");
}

/// A small CNN (conv → ReLU → conv → ReLU → global average pooling → dense) on 4 × 4 × 2 images.
#[test]
fn cnn_tiles_reassemble_the_gram_matrix_bit_for_bit() {
    let net = Network::from_json(
        r#"{"input_shape": [4, 4, 2], "layers": [
        {"conv": {"w_std": 1.4142135623730951, "b_std": 0.1, "filter_shape": [3, 3]}}, {"relu": {}},
        {"conv": {"w_std": 1.4142135623730951, "b_std": 0.1, "filter_shape": [2, 2]}}, {"relu": {}},
        {"global_avg_pool": {}}, {"dense": {"w_std": 1.4142135623730951, "b_std": 0.1}}]}"#,
    )
    .unwrap();
    assert_tiles_reassemble(&net, &points_with_duplicates(13, 32, 4), 30, "CNN");
}

/// A tile of a cross matrix is the cross matrix of the two slices of points, bit for bit.
#[test]
fn cross_tiles_are_the_cross_matrix_of_the_slices() {
    let net = depth3(Activation::Relu);
    let x1 = points_with_duplicates(21, 6, 5);
    let mut x2 = points_with_duplicates(19, 6, 6);
    let shared = x1.row(4).into_owned();
    x2.row_mut(9).copy_from(&shared);
    let full = net.cross(&x1, &x2).unwrap();
    let mut rng = XorShift::new(40);
    for rows in random_cuts(&mut rng, 21, 4) {
        for cols in random_cuts(&mut rng, 19, 3) {
            let a = x1.rows(rows.start, rows.len()).into_owned();
            let b = x2.rows(cols.start, cols.len()).into_owned();
            let t = net.cross(&a, &b).unwrap();
            let at = (rows.start, cols.start);
            let shape = t.ntk.shape();
            assert_eq!(first_difference(&t.ntk, full.ntk.view(at, shape)), None);
            assert_eq!(first_difference(&t.nngp, full.nngp.view(at, shape)), None);
        }
    }
    // The shared point gets the variance, as in the whole cross matrix.
    assert_eq!(full.nngp[(4, 9)], full.cov1[4]);
}

#[test]
fn bad_tile_ranges_are_typed_errors() {
    let net = depth3(Activation::Relu);
    let x = points_with_duplicates(10, 3, 7);
    let message = |rows: Range<usize>, cols: Range<usize>| match net.gram_tile(&x, rows, cols) {
        Err(e @ Error::InvalidParameter { .. }) => e.to_string(),
        other => panic!("expected InvalidParameter, got {other:?}"),
    };
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = message(7..2, 0..3);
    assert!(
        reversed.contains("`rows` = 7..2") && reversed.contains("start 7 > end 2"),
        "{reversed}"
    );
    assert!(
        reversed.contains("half-open") && reversed.contains("n = 10"),
        "{reversed}"
    );
    let empty = message(0..3, 4..4);
    assert!(
        empty.contains("`cols` = 4..4") && empty.contains("empty"),
        "{empty}"
    );
    let past = message(0..11, 0..3);
    assert!(past.contains("end 11 is past the last point"), "{past}");
    // Inputs are checked as for `gram`.
    let mut bad = x.clone();
    bad[(2, 1)] = f64::NAN;
    assert!(matches!(
        net.gram_tile(&bad, 0..3, 0..3),
        Err(Error::NonFinite { .. })
    ));
    let cnn = Network::from_json(
        r#"{"input_shape": [2, 2, 1], "layers": [{"conv": {"w_std": 1.0, "filter_shape": [2, 2]}},
        {"relu": {}}, {"flatten": {}}, {"dense": {"w_std": 1.0}}]}"#,
    )
    .unwrap();
    assert!(matches!(
        cnn.gram_tile(&x, 0..2, 0..2),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// `ntk kernel --rows --cols` writes the tile of the library (JSON with its ranges, `.npz`, and
/// one kernel as `.npy`), and bad flags fail with exit code 2 and a message about ranges.
#[test]
fn cli_tiles_match_the_library() {
    let dir = TempDir::new("tiles");
    let spec = dir.file(
        "net.json",
        r#"{"layers": [{"dense": {"w_std": 1.5, "b_std": 0.1}}, {"relu": {}},
        {"dense": {"w_std": 1.5, "b_std": 0.1}}, {"relu": {}}, {"dense": {"w_std": 1.5}}]}"#,
    );
    let x = points_with_duplicates(23, 4, 8);
    let x_path = dir.file("x.npy", ntk::io::to_npy(&x));
    let net = Network::from_json(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    let full = net.gram(&x).unwrap();
    let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
    let row_major = |m: DMatrixView<f64>| m.transpose().as_slice().to_vec();

    // JSON: an open-ended range `17..` runs to the last point.
    let out = ntk_cmd(&[
        &"kernel", &"--spec", &spec, &"--x1", &x_path, &"--rows", &"17..", &"--cols", &"2..9",
    ]);
    assert_success(&out);
    let json = stdout(&out);
    let block = |m: &DMatrix<f64>| row_major(m.view((17, 2), (6, 7)));
    assert_eq!(bits(&exact_numbers(&json, "ntk")), bits(&block(&full.ntk)));
    assert_eq!(
        bits(&exact_numbers(&json, "nngp")),
        bits(&block(&full.nngp))
    );
    assert_eq!(exact_numbers(&json, "rows"), [17.0, 23.0]);
    assert_eq!(exact_numbers(&json, "cols"), [2.0, 9.0]);

    // One kernel as .npy.
    let npy = dir.0.join("tile.npy");
    let out = ntk_cmd(&[
        &"kernel",
        &"--spec",
        &spec,
        &"--x1",
        &x_path,
        &"--rows",
        &"..5",
        &"--cols",
        &"3..23",
        &"--kernel",
        &"ntk",
        &"--out",
        &npy,
    ]);
    assert_success(&out);
    let tile = ntk::io::read_matrix(&npy).unwrap();
    assert_eq!(
        first_difference(&tile, full.ntk.view((0, 3), (5, 20))),
        None
    );

    // One kernel as JSON: its key alone, with the variances.
    let out = ntk_cmd(&[
        &"kernel",
        &"--spec",
        &spec,
        &"--x1",
        &x_path,
        &"--rows",
        &"3..8",
        &"--kernel",
        &"nngp",
    ]);
    assert_success(&out);
    let json = stdout(&out);
    assert!(!json.contains("\"ntk\""), "{json}");
    assert_eq!(
        bits(&exact_numbers(&json, "nngp")),
        bits(&row_major(full.nngp.view((3, 0), (5, 23))))
    );
    assert_eq!(
        bits(&exact_numbers(&json, "cov1")),
        bits(&full.cov1.as_slice()[3..8])
    );
    assert_eq!(
        bits(&exact_numbers(&json, "cov2")),
        bits(full.cov1.as_slice())
    );

    // Both kernels as .npz, with a second point set (a tile of the cross matrix).
    let x2 = points_with_duplicates(9, 4, 9);
    let x2_path = dir.file("x2.npy", ntk::io::to_npy(&x2));
    let npz = dir.0.join("tile.npz");
    let out = ntk_cmd(&[
        &"kernel", &"--spec", &spec, &"--x1", &x_path, &"--x2", &x2_path, &"--rows", &"4..10",
        &"--out", &npz,
    ]);
    assert_success(&out);
    let cross = net.cross(&x, &x2).unwrap();
    let arrays = read_npz(&npz);
    let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["nngp", "ntk", "cov1", "cov2", "rows", "cols"]);
    assert_eq!(arrays[1].1.shape(), [6, 9]);
    assert_eq!(
        arrays[1].1.f64_bits(),
        bits(&row_major(cross.ntk.view((4, 0), (6, 9))))
    );

    // Mistakes.
    let run = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"kernel", &"--spec", &spec, &"--x1", &x_path];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        ntk_cmd(&args)
    };
    assert_fails(
        &run(&["--rows", "9..3"]),
        2,
        &["--rows", "9..3", "half-open"],
    );
    assert_fails(&run(&["--rows", "4..4"]), 2, &["empty"]);
    assert_fails(
        &run(&["--cols", "a..3"]),
        2,
        &["--cols", "not a point index"],
    );
    assert_fails(&run(&["--cols", "3"]), 2, &["expected a..b"]);
    assert_fails(
        &run(&["--rows", "0..24"]),
        1,
        &["--rows", "0..24", "past the last point", "n = 23"],
    );
    let npy_both = dir.0.join("both.npy");
    assert_fails(
        &run(&["--out", npy_both.to_str().unwrap()]),
        2,
        &["--kernel"],
    );
}
