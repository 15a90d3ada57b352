//! The lane path of quadrature duals (`mehler::entries`, LANES rows of a kernel column at a time
//! with per-lane truncation) against the single-entry path (`Network::entry`, one lane): every
//! entry must have the same bits wherever it is computed (`==` on the f64 bits), in lanes whose
//! neighbours stop after a different number of terms, take the exact fallback, take the diagonal,
//! or are padding.

use crate::common::XorShift as Rng;
use nalgebra::DMatrix;
use ntk::{Activation, Kernel, Network};

/// The first (row, column) whose bits differ.
fn first_difference(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Option<(usize, usize)> {
    assert_eq!(a.shape(), b.shape());
    (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| (i, j)))
        .find(|&(i, j)| a[(i, j)].to_bits() != b[(i, j)].to_bits())
}

/// n = 45 rows of d = 6 (five full lane groups and a padded one), mixing the cases that end a
/// lane's series at different places: random rows (ρ small to moderate: one to three chunks of
/// terms), a duplicate (the diagonal), a scaled and an antiparallel copy (ρ = ±1: the exact rule),
/// a zero row, rows ten times larger (large variances: the series declines near ρ = 1 and
/// needs many terms elsewhere) and rows nearly parallel to row 0 (|ρ| near 1).
fn points() -> DMatrix<f64> {
    let mut rng = Rng::new(71);
    let (n, d) = (45, 6);
    let mut x = DMatrix::from_fn(n, d, |_, _| rng.normal());
    let r0 = x.row(0).into_owned();
    x.set_row(9, &r0);
    x.set_row(17, &(r0.clone() * 2.5));
    x.set_row(20, &(r0.clone() * -1.0));
    x.row_mut(26).fill(0.0);
    for i in [30, 31, 38] {
        let r = x.row(i) * 10.0;
        x.set_row(i, &r);
    }
    for (i, eps) in [(33, 1e-3), (40, 1e-2), (44, 0.1)] {
        let r = &r0 + x.row(i) * eps;
        x.set_row(i, &r);
    }
    x
}

/// Networks of quadrature layers: tanh and sigmoid MLPs, and tanh then softplus (two layers
/// with different tables).
fn networks() -> Vec<(String, Network)> {
    let mlp = |a: Activation| {
        Network::mlp(3, a.clone())
            .w_std(1.5)
            .b_std(0.1)
            .build()
            .unwrap()
    };
    let two = Network::from_json(
        r#"{"layers": [
        {"dense": {"w_std": 1.5, "b_std": 0.1}}, {"tanh": {}},
        {"dense": {"w_std": 1.2, "b_std": 0.2}}, {"softplus": {}},
        {"dense": {"w_std": 1.0, "b_std": 0.0}}]}"#,
    )
    .unwrap();
    vec![
        ("tanh".into(), mlp(Activation::Tanh)),
        ("sigmoid".into(), mlp(Activation::Sigmoid)),
        ("tanh-softplus".into(), two),
    ]
}

/// A network that mixes a closed form (ReLU, computed by its own lane formulas) with two
/// quadrature layers, so that a quadrature layer's place among the activations differs from its
/// place among the quadrature layers (which selects its block of the rows' tables).
fn mixed() -> Network {
    Network::from_json(
        r#"{"layers": [
        {"dense": {"w_std": 1.5, "b_std": 0.1}}, {"relu": {}},
        {"dense": {"w_std": 1.5, "b_std": 0.1}}, {"tanh": {}},
        {"dense": {"w_std": 1.2, "b_std": 0.2}}, {"softplus": {}},
        {"dense": {"w_std": 1.0, "b_std": 0.0}}]}"#,
    )
    .unwrap()
}

/// Every entry of the Gram matrix (lanes) equals `entry` (one lane) bit for bit, and so does
/// every entry of a cross matrix of shifted slices, whose rows sit in other lanes (against both
/// triangles of the entries: a cross matrix computes every entry with its row as the first
/// point). Row blocks that start inside a lane group of their tables are checked by the unit test
/// `kernel::tests::unaligned_row_blocks_have_the_gram_bits`.
#[test]
fn gram_and_cross_equal_entry_bit_for_bit() {
    let x = points();
    let n = x.nrows();
    let rows: Vec<Vec<f64>> = (0..n).map(|i| x.row(i).iter().copied().collect()).collect();
    for (what, net) in networks() {
        let g = net.gram(&x).unwrap();
        let (mut nngp, mut ntk) = (DMatrix::zeros(n, n), DMatrix::zeros(n, n));
        for i in 0..n {
            for j in 0..n {
                let e = net.entry(&rows[i], &rows[j]).unwrap();
                (nngp[(i, j)], ntk[(i, j)]) = (e.nngp, e.ntk);
            }
        }
        // The Gram matrix computes the entries i ≤ j with row i against column point j (as
        // `entry(x_i, x_j)` pairs them) and mirrors them.
        let upper = |m: &DMatrix<f64>| DMatrix::from_fn(n, n, |i, j| m[(i.min(j), i.max(j))]);
        assert_eq!(
            first_difference(&g.nngp, &upper(&nngp)),
            None,
            "{what}: nngp"
        );
        assert_eq!(first_difference(&g.ntk, &upper(&ntk)), None, "{what}: ntk");
        // Rows 3.. against columns 5..12: every row in another lane than in the Gram matrix.
        let a = x.rows(3, n - 3).into_owned();
        let b = x.rows(5, 7).into_owned();
        let c = net.cross(&a, &b).unwrap();
        let block = |m: &DMatrix<f64>| m.view((3, 5), (n - 3, 7)).into_owned();
        assert_eq!(
            first_difference(&c.nngp, &block(&nngp)),
            None,
            "{what}: cross"
        );
        assert_eq!(
            first_difference(&c.ntk, &block(&ntk)),
            None,
            "{what}: cross"
        );
    }
}

/// Tiles of a tanh Gram matrix (and of the mixed network) at offsets on and off a multiple of
/// the lanes (and single entries) equal the Gram block bit for bit.
#[test]
fn tanh_tiles_equal_the_gram_block_bit_for_bit() {
    let x = points();
    let n = x.nrows();
    for net in [networks().swap_remove(0).1, mixed()] {
        tiles_equal_gram(&net, &x, n);
    }
}

fn tiles_equal_gram(net: &Network, x: &DMatrix<f64>, n: usize) {
    let g = net.gram(x).unwrap();
    for (rows, cols) in [
        (0..n, 0..n),
        (8..40, 3..45),
        (3..44, 0..17),
        (13..14, 29..30),
        (30..45, 30..39),
    ] {
        let t = net.gram_tile(x, rows.clone(), cols.clone()).unwrap();
        let at = (rows.start, cols.start);
        let shape = (rows.len(), cols.len());
        let (nngp, ntk) = (
            g.nngp.view(at, shape).into_owned(),
            g.ntk.view(at, shape).into_owned(),
        );
        assert_eq!(
            first_difference(&t.nngp, &nngp),
            None,
            "{rows:?} × {cols:?}"
        );
        assert_eq!(first_difference(&t.ntk, &ntk), None, "{rows:?} × {cols:?}");
    }
}
