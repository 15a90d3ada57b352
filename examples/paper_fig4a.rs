//! Jiang & Pehlevan (2020), Fig. 4a in the infinite-width limit: basins of attraction. Noisy copies
//! xᵢ + σz (z ~ N(0, I)) of the training points are iterated through the trained autoencoder up to 50
//! times; a copy is recovered when the mean squared error to xᵢ is below 10⁻² (§5.1). The recovery
//! rate against the noise σ, for several input radii r: larger r (further from the linear region)
//! gives larger basins.
//!
//! One hidden layer, logistic sigmoid, n0 = 32, n = 5 random training points; 10 copies per
//! training point and σ, the same noise directions at every σ (seeded). By default f₀ = J₀ = 0;
//! `--finite-init WIDTH` (the paper: 10000) takes f₀ and J₀ from a sampled network of that hidden
//! width.
//!
//! Writes `paper_fig4a.csv` and `paper_fig4a.svg` (`paper_fig4a_finite<WIDTH>.*` with
//! `--finite-init`).
//!
//! Run: `cargo run --release --example paper_fig4a [-- --finite-init 10000]`

mod common;

use common::{Figure, Init, Series, logspace, save, sphere};
use ntk::jacobian::{IterationCriteria, RecoveryParams, TrainedMap};
use ntk::{Activation, Network};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let init = Init::from_args()?;
    let (n, n0) = (5, 32);
    let net = Network::builder()
        .dense(1.0, None)
        .activation(Activation::Sigmoid)
        .dense(1.0, None)
        .quadrature_nodes(16)
        .build()?;
    let noise = logspace(0.1, 20.0, 10);
    let radii = [5.0, 10.0, 20.0, 40.0, 80.0];
    let criteria = IterationCriteria {
        max_iter: 50,
        step_tol: 1e-8,
    };
    let mut rows: Vec<Vec<f64>> = noise.iter().map(|&s| vec![s]).collect();
    let mut series = Vec::new();
    println!(
        "Recovery rate of noisy training points (sigmoid, n0 = {n0}, n = {n}, {})",
        init.describe()
    );
    print!("{:>8}", "σ \\ r");
    for r in radii {
        print!(" {r:>7}");
    }
    println!();
    let mut table = Vec::new();
    for &r in &radii {
        let x = sphere(n, n0, r, 4242);
        let f0 = init.function(&net, n0, 4242)?;
        let map = TrainedMap::params().initial(f0).autoencoder(&net, &x)?;
        let rates = map.recovery_rates(
            &noise,
            &RecoveryParams::default()
                .copies(10)
                .criteria(criteria)
                .seed(7),
        )?;
        for (k, rec) in rates.iter().enumerate() {
            rows[k].push(rec.rate);
        }
        series.push(Series {
            label: format!("r = {r}"),
            points: rates.iter().map(|rec| (rec.noise, rec.rate)).collect(),
        });
        table.push(rates);
    }
    for (k, &s) in noise.iter().enumerate() {
        print!("{s:>8.3}");
        for rates in &table {
            print!(" {:>7.2}", rates[k].rate);
        }
        println!();
    }
    let name = format!("paper_fig4a{}", init.suffix());
    let title = format!(
        "Recovery rate of noisy training points (sigmoid, n0 = 32, n = 5, {})",
        init.describe()
    );
    save(
        &Figure {
            name: &name,
            title: &title,
            axes: ("noise σ", "recovery rate"),
            log_x: true,
            hlines: &[],
        },
        "noise,r5,r10,r20,r40,r80",
        &rows,
        &series,
        start,
    )?;
    Ok(())
}
