//! Recursive Feature Machines against the Laplace kernel and the ReLU NTK on four UCI data sets,
//! and the feature matrix RFM learns on the 8 × 8 digits.
//!
//! `cargo run --release --example rfm`
//!
//! For each data set (iris, wine, breast cancer, digits; `data/README.md`): a fixed shuffle (seed
//! 7) into 80 % training and 20 % test points; features standardized with the training mean and
//! standard deviation (digits: pixels divided by 16, so that the feature matrix stays per pixel);
//! one-hot targets, the predicted class the largest output. Three kernel ridge regressions with the
//! same ridge:
//!
//! * Laplace: exp(−‖x − z‖/L), L = 10, λ = 1e-3 (an RFM with T = 0);
//! * RFM: Algorithm 1 of Radhakrishnan (2023), L = 10, λ = 1e-3, T = 5, full M;
//! * NTK: the ReLU NTK of two hidden layers (σ_w = √2, no bias), λ = 1e-3 · trace(K)/n.
//!
//! Prints the test accuracies as a table (also written to `target/figures/rfm_accuracy.csv`) and
//! draws the diagonal of the digits' learned M as an 8 × 8 heat map,
//! `target/figures/rfm_digits_diagonal.svg`: the pixels RFM found informative.

mod common;

use flate2::read::GzDecoder;
use nalgebra::DMatrix;
use ntk::feature::Rfm;
use ntk::{Activation, GpInference, KernelKind, Network, Regularization};
use plotters::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::error::Error;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

/// A labelled data set: features (rows) and class labels.
struct DataSet {
    name: &'static str,
    x: DMatrix<f64>,
    labels: Vec<usize>,
    classes: usize,
}

/// Parses comma-separated rows whose last column is the label.
fn parse(name: &'static str, text: &str, skip_header: bool) -> Result<DataSet, Box<dyn Error>> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for line in text.lines().skip(usize::from(skip_header)) {
        if line.trim().is_empty() {
            continue;
        }
        rows.push(
            line.split(',')
                .map(|c| c.trim().parse::<f64>())
                .collect::<Result<_, _>>()?,
        );
    }
    let d = rows[0].len() - 1;
    let x = DMatrix::from_fn(rows.len(), d, |i, j| rows[i][j]);
    let labels: Vec<usize> = rows.iter().map(|r| r[d] as usize).collect();
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    Ok(DataSet {
        name,
        x,
        labels,
        classes,
    })
}

fn load() -> Result<Vec<DataSet>, Box<dyn Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let text = |f: &str| std::fs::read_to_string(dir.join(f));
    let mut digits = String::new();
    GzDecoder::new(std::fs::File::open(dir.join("digits.csv.gz"))?).read_to_string(&mut digits)?;
    Ok(vec![
        parse("iris", &text("iris.csv")?, true)?,
        parse("wine", &text("wine_data.csv")?, true)?,
        parse("breast cancer", &text("breast_cancer.csv")?, true)?,
        parse("digits", &digits, false)?,
    ])
}

/// The train and test parts: standardized features, one-hot targets, labels.
struct Split {
    x_train: DMatrix<f64>,
    y_train: DMatrix<f64>,
    x_test: DMatrix<f64>,
    labels_test: Vec<usize>,
}

fn split(data: &DataSet) -> Split {
    let n = data.x.nrows();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(7));
    let n_train = n * 4 / 5;
    let (train, test) = order.split_at(n_train);
    let mut x_train = data.x.select_rows(train);
    let mut x_test = data.x.select_rows(test);
    if data.name == "digits" {
        x_train /= 16.0;
        x_test /= 16.0;
    } else {
        for c in 0..x_train.ncols() {
            let col = x_train.column(c);
            let mean = col.mean();
            let sd = col.variance().sqrt();
            // A constant training column carries nothing; leave it centred.
            let sd = if sd > 0.0 { sd } else { 1.0 };
            x_train.column_mut(c).apply(|v| *v = (*v - mean) / sd);
            x_test.column_mut(c).apply(|v| *v = (*v - mean) / sd);
        }
    }
    let y_train = DMatrix::from_fn(n_train, data.classes, |i, k| {
        f64::from(u8::from(data.labels[train[i]] == k))
    });
    Split {
        x_train,
        y_train,
        x_test,
        labels_test: test.iter().map(|&i| data.labels[i]).collect(),
    }
}

/// The fraction of rows whose largest output is the label.
fn accuracy(pred: &DMatrix<f64>, labels: &[usize]) -> f64 {
    let hits = pred
        .row_iter()
        .zip(labels)
        .filter(|(row, l)| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|m| m.0)
                == Some(**l)
        })
        .count();
    hits as f64 / labels.len() as f64
}

/// The 8 × 8 heat map of the diagonal of M (pixel (r, c) is feature 8r + c), on a white-to-dark-blue
/// scale from 0 to its largest value.
fn heat_map(diag: &[f64], path: &Path) -> Result<(), Box<dyn Error>> {
    let cell: usize = 50;
    let (left, top): (usize, usize) = (20, 50);
    let width = left * 2 + 8 * cell + 120;
    let height = top + 8 * cell + 30;
    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        "RFM on 8×8 digits: diagonal of the learned M",
        (left as i32, 15),
        ("sans-serif", 18),
    ))?;
    let max = diag
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let color = |v: f64| {
        let t = (v / max).clamp(0.0, 1.0);
        RGBColor(
            (255.0 * (1.0 - 0.9 * t)) as u8,
            (255.0 * (1.0 - 0.75 * t)) as u8,
            (255.0 * (1.0 - 0.45 * t)) as u8,
        )
    };
    for r in 0..8 {
        for c in 0..8 {
            let (x0, y0) = (left + c * cell, top + r * cell);
            root.draw(&Rectangle::new(
                [
                    (x0 as i32, y0 as i32),
                    ((x0 + cell) as i32, (y0 + cell) as i32),
                ],
                color(diag[8 * r + c]).filled(),
            ))?;
        }
    }
    // The colour bar.
    let bar_x = (left + 8 * cell + 30) as i32;
    for s in 0..100 {
        let t = 1.0 - s as f64 / 99.0;
        let y = top as i32 + (s * 8 * cell / 100) as i32;
        root.draw(&Rectangle::new(
            [(bar_x, y), (bar_x + 20, y + (8 * cell / 100) as i32 + 1)],
            color(t * max).filled(),
        ))?;
    }
    root.draw(&Text::new(
        format!("{max:.3}"),
        (bar_x + 25, top as i32),
        ("sans-serif", 14),
    ))?;
    root.draw(&Text::new(
        "0",
        (bar_x + 25, (top + 8 * cell) as i32 - 14),
        ("sans-serif", 14),
    ))?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let (bandwidth, ridge, iterations) = (10.0, 1e-3, 5);
    let ntk_net = Network::mlp(2, Activation::Relu)
        .w_std(2f64.sqrt())
        .build()?;
    let mut csv = String::from("data_set,n_train,n_test,d,laplace,rfm,relu_ntk\n");
    let mut digits_diag = None;
    println!("| data set | n train | n test | d | Laplace | RFM (T = {iterations}) | ReLU NTK |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for data in load()? {
        eprintln!(
            "{}: fitting ({:.1} s)",
            data.name,
            start.elapsed().as_secs_f64()
        );
        let s = split(&data);
        let params = Rfm::params().bandwidth(bandwidth).ridge(ridge);
        let laplace = params.clone().iterations(0).fit(&s.x_train, &s.y_train)?;
        let acc_laplace = accuracy(&laplace.predict(&s.x_test)?, &s.labels_test);
        let rfm = params.iterations(iterations).fit(&s.x_train, &s.y_train)?;
        let acc_rfm = accuracy(&rfm.predict(&s.x_test)?, &s.labels_test);
        let gp = GpInference::params()
            .regularization(Regularization::Relative(ridge))
            .fit_points(&ntk_net, &s.x_train, &s.y_train)?;
        let ntk_mean = gp
            .predict_points(KernelKind::Ntk, &ntk_net, &s.x_test)?
            .mean;
        let acc_ntk = accuracy(&ntk_mean, &s.labels_test);
        println!(
            "| {} | {} | {} | {} | {:.1} % | {:.1} % | {:.1} % |",
            data.name,
            s.x_train.nrows(),
            s.x_test.nrows(),
            data.x.ncols(),
            100.0 * acc_laplace,
            100.0 * acc_rfm,
            100.0 * acc_ntk
        );
        csv.push_str(&format!(
            "{},{},{},{},{acc_laplace},{acc_rfm},{acc_ntk}\n",
            data.name,
            s.x_train.nrows(),
            s.x_test.nrows(),
            data.x.ncols()
        ));
        if data.name == "digits" {
            digits_diag = Some(
                rfm.feature_matrix()
                    .diagonal()
                    .iter()
                    .copied()
                    .collect::<Vec<_>>(),
            );
        }
    }
    let dir = common::out_dir()?;
    std::fs::write(dir.join("rfm_accuracy.csv"), csv)?;
    if let Some(diag) = digits_diag {
        println!("\ndiagonal of the digits' M (rows of the 8 × 8 image):");
        for r in 0..8 {
            let cells: Vec<String> = (0..8).map(|c| format!("{:7.4}", diag[8 * r + c])).collect();
            println!("{}", cells.join(" "));
        }
        let svg = dir.join("rfm_digits_diagonal.svg");
        heat_map(&diag, &svg)?;
        println!(
            "\nwrote {} ({:.1} s)",
            svg.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
