//! Shared by the paper-figure examples: random data on a sphere, CSV output, SVG line plots.

#![allow(dead_code)] // each example uses part of it

use nalgebra::DMatrix;
use ntk::Network;
use ntk::jacobian::TrainedMap;
use plotters::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::error::Error;
use std::path::{Path, PathBuf};

/// Where figures go: `$NTK_FIGURES`, or `target/figures`.
pub fn out_dir() -> Result<PathBuf, Box<dyn Error>> {
    let dir = std::env::var_os("NTK_FIGURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/figures"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// n points uniformly on the sphere of radius r in ℝ^d (rows), the paper's random data.
pub fn sphere(n: usize, d: usize, r: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = DMatrix::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng));
    for mut row in x.row_iter_mut() {
        let norm = row.norm();
        row *= r / norm;
    }
    x
}

/// `count` values from `lo` to `hi`, equally spaced in log scale.
pub fn logspace(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    (0..count)
        .map(|k| lo * (hi / lo).powf(k as f64 / (count - 1) as f64))
        .collect()
}

/// Writes a CSV file with a header line.
pub fn write_csv(path: &Path, header: &str, rows: &[Vec<f64>]) -> Result<(), Box<dyn Error>> {
    let mut text = String::from(header);
    text.push('\n');
    for row in rows {
        let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// One curve of a plot.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// An SVG plot of `series` (lines with markers), x in log scale when `log_x`, with horizontal
/// reference lines at `hlines`.
pub fn line_plot(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
    log_x: bool,
    hlines: &[f64],
) -> Result<(), Box<dyn Error>> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    for &h in hlines {
        y1 = y1.max(h);
    }
    y1 *= 1.05;
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let colors = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .margin_right(36)
        .x_label_area_size(45)
        .y_label_area_size(60);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .draw()?;
            for &h in hlines {
                chart.draw_series(LineSeries::new(
                    vec![(x0, h), (x1, h)],
                    BLACK.mix(0.4).stroke_width(1),
                ))?;
            }
            for (k, s) in series.iter().enumerate() {
                let color = colors[k % colors.len()];
                chart
                    .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart.draw_series(
                    s.points
                        .iter()
                        .map(move |&p| Circle::new(p, 3, color.filled())),
                )?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        }};
    }
    if log_x {
        draw!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?);
    } else {
        draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
    }
    root.present()?;
    Ok(())
}

/// The largest |eigenvalue| of the autoencoder's J∞ over its training points (n random points of
/// norm r in ℝ^d, f₀ = 0), averaged over `seeds` data sets (seeded from `seed0`); `None` if the
/// train kernel is numerically singular for every data set (the paper skipped settings that did not
/// train).
pub fn largest_eigenvalue(
    net: &Network,
    n: usize,
    d: usize,
    r: f64,
    seeds: u64,
    seed0: u64,
) -> Result<Option<f64>, ntk::Error> {
    let per_seed: Vec<Result<Option<f64>, ntk::Error>> = (0..seeds)
        .into_par_iter()
        .map(|seed| {
            let x = sphere(n, d, r, seed0 + seed);
            let map = match TrainedMap::params().autoencoder(net, &x) {
                Ok(map) => map,
                Err(ntk::Error::NotPositiveDefinite { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut worst: f64 = 0.0;
            for i in 0..n {
                let xi: Vec<f64> = x.row(i).iter().copied().collect();
                worst = worst.max(map.jacobian_spectrum(&xi)?.spectral_radius());
            }
            Ok(Some(worst))
        })
        .collect();
    let mut values = Vec::new();
    for v in per_seed {
        if let Some(v) = v? {
            values.push(v);
        }
    }
    Ok((!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64))
}

/// What a figure example writes: `<name>.csv` (with `header`) and `<name>.svg`.
pub struct Figure<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub axes: (&'a str, &'a str),
    pub log_x: bool,
    pub hlines: &'a [f64],
}

/// Writes the figure's CSV and SVG to [`out_dir`] and says where, with the time since `start`.
pub fn save(
    fig: &Figure,
    header: &str,
    rows: &[Vec<f64>],
    series: &[Series],
    start: std::time::Instant,
) -> Result<(), Box<dyn Error>> {
    let dir = out_dir()?;
    let csv = dir.join(format!("{}.csv", fig.name));
    write_csv(&csv, header, rows)?;
    line_plot(
        &dir.join(format!("{}.svg", fig.name)),
        fig.title,
        fig.axes,
        series,
        fig.log_x,
        fig.hlines,
    )?;
    println!(
        "\nwrote {} and {}.svg ({:.1} s)",
        csv.display(),
        fig.name,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
