//! Shared by the paper-figure examples: random data on a sphere, the network at initialization
//! (`--finite-init`), CSV output, SVG line plots.

#![allow(dead_code)] // each example uses part of it

use nalgebra::DMatrix;
use ntk::jacobian::{InitialFunction, TrainedMap};
use ntk::{FiniteNetwork, HiddenWidths, Network};
use plotters::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// What the trained map starts from: f₀ and J₀ in J∞ = J₀ + (X − f₀(X))ᵀK̃⁻¹∂k/∂x (paper eq. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// f₀ = J₀ = 0, the mean over initializations (the default). The paper drops J₀ only in the
    /// r → ∞ limit of §4.4; without it no eigenvalue exceeds 1 in the linear region and the
    /// non-unit eigenvalues of Fig. E.1 stay below 0.04 (docs/jacobians.md).
    Mean,
    /// f₀ and J₀ of one finite network of this hidden width at initialization per data set, as in
    /// the paper's simulations: J∞ is then the NTK prediction for that very network.
    Finite {
        /// Hidden width n₁ of the sampled network.
        width: usize,
    },
}

/// Added to a data set's seed to seed its network, so that weights and data come from different
/// ChaCha8 streams (the same seed would make the weights repeat the data's Gaussian draws).
const NETWORK_SEED_OFFSET: u64 = 1 << 40;

impl Init {
    /// From the example's command line: nothing for [`Init::Mean`], `--finite-init WIDTH` (or
    /// `--finite-init=WIDTH`) for [`Init::Finite`].
    pub fn from_args() -> Result<Init, Box<dyn Error>> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let width = match args.as_slice() {
            [] => return Ok(Init::Mean),
            [flag, w] if flag == "--finite-init" => Some(w.as_str()),
            [flag] => flag.strip_prefix("--finite-init="),
            _ => None,
        };
        let Some(width) = width else {
            return Err(format!(
                "unexpected arguments {args:?}: the only option is `--finite-init WIDTH`, which \
                 takes f₀ and J₀ from a sampled network of that hidden width instead of f₀ = J₀ = 0"
            )
            .into());
        };
        match width.parse::<usize>() {
            Ok(width) if width > 0 => Ok(Init::Finite { width }),
            _ => Err(format!("--finite-init needs a positive integer width, got {width:?}").into()),
        }
    }

    /// The initial function for the data set seeded by `seed`: none, or a network drawn from
    /// `spec` with `d` inputs and `d` outputs (an autoencoder).
    pub fn function(
        &self,
        spec: &Network,
        d: usize,
        seed: u64,
    ) -> Result<Option<Arc<dyn InitialFunction>>, ntk::Error> {
        match *self {
            Init::Mean => Ok(None),
            Init::Finite { width } => {
                let net = FiniteNetwork::builder(spec, d)
                    .hidden(HiddenWidths::Uniform(width))
                    .output_dim(d)
                    .seed(seed.wrapping_add(NETWORK_SEED_OFFSET))
                    .build()?;
                Ok(Some(Arc::new(net)))
            }
        }
    }

    /// Appended to file names: empty for the default, `_finite<width>` otherwise.
    pub fn suffix(&self) -> String {
        match self {
            Init::Mean => String::new(),
            Init::Finite { width } => format!("_finite{width}"),
        }
    }

    /// For titles and headers.
    pub fn describe(&self) -> String {
        match self {
            Init::Mean => "f₀ = J₀ = 0".into(),
            Init::Finite { width } => format!("f₀, J₀ of a width-{width} network"),
        }
    }
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
/// norm r in ℝ^d, starting from `init`), averaged over `seeds` data sets (seeded from `seed0`);
/// `None` if the train kernel is numerically singular for every data set (the paper skipped
/// settings that did not train).
pub fn largest_eigenvalue(
    net: &Network,
    n: usize,
    d: usize,
    r: f64,
    seeds: u64,
    seed0: u64,
    init: Init,
) -> Result<Option<f64>, ntk::Error> {
    let per_seed: Vec<Result<Option<f64>, ntk::Error>> = (0..seeds)
        .into_par_iter()
        .map(|seed| {
            let x = sphere(n, d, r, seed0 + seed);
            let f0 = init.function(net, d, seed0 + seed)?;
            let map = match TrainedMap::params().initial(f0).autoencoder(net, &x) {
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

/// The 1797 digits of `data/digits.csv.gz`: rows of 64 pixels / 16, each image centred and scaled
/// to unit mean square, and the labels.
pub fn digits() -> Result<(DMatrix<f64>, Vec<usize>), Box<dyn Error>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()?;
        let mut img: Vec<f64> = v[..64].iter().map(|p| p / 16.0).collect();
        let mean = img.iter().sum::<f64>() / 64.0;
        img.iter_mut().for_each(|p| *p -= mean);
        let rms = (img.iter().map(|p| p * p).sum::<f64>() / 64.0).sqrt();
        img.iter_mut().for_each(|p| *p /= rms);
        pixels.extend(img);
        labels.push(v[64] as usize);
    }
    Ok((DMatrix::from_row_slice(labels.len(), 64, &pixels), labels))
}
