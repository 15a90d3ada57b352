//! `ntk infinite-depth`: the limit of an infinitely deep network's NTK classifier (Ch. 4).

use crate::io::{Output, ToNpy, write_output};
use crate::{Failure, synopsis};
use ntk::Activation;
use ntk::infinite_depth::{Phase, SphereDual, Taxonomy};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The infinite-depth limit of the NTK classifier of a network without bias on the sphere
///
/// Output (JSON): {"activation", "taxonomy": "singular" | "nearest_neighbor" | "majority_vote",
/// "order": β or null, "A", "A_prime", "B_prime", "limit": {...}} with A = E[φ], A′ = E[φ′],
/// B′ = E[φ′²] for the activation normalized to E[φ²] = 1 (Radhakrishnan 2023, Thms 7–9, Prop. 4).
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Activation in JSON, e.g. '{"sin": {"a": 1, "b": 1, "c": 0}}', or a bare name (tanh)
    #[arg(long, value_name = "JSON")]
    activation: String,
    /// Quadrature nodes per dimension for the activations computed by quadrature (tanh, sigmoid, ...)
    #[arg(long, value_name = "N", default_value_t = ntk::infinite_depth::TAXONOMY_NODES)]
    quadrature_nodes: usize,
    /// Write the JSON to OUT instead of standard output
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

struct Report(Value);

impl serde::Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Output for Report {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        Vec::new()
    }
}

/// Runs `ntk infinite-depth`.
pub fn run(args: &Args) -> Result<(), Failure> {
    if args
        .out
        .as_deref()
        .and_then(|p| p.extension())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
    {
        return Err(Failure::Usage(
            "--out: the infinite-depth report is JSON; give a file name not ending in .npz"
                .to_string(),
        ));
    }
    let activation = Activation::from_json(&args.activation)?;
    let dual = SphereDual::with_nodes(&activation, args.quadrature_nodes)?;
    let m = dual.moments();
    let taxonomy = dual.taxonomy()?;
    let (name, order, limit) = match taxonomy {
        Taxonomy::Singular { order } => (
            "singular",
            json!(order),
            json!({
                "classifier": "singular kernel machine",
                "normalization": "A_prime^(2L) * (L + 1)",
                "kernel": "R(z) / (1 - z)^order",
                "consistent_dimension": 2.0 * order,
            }),
        ),
        Taxonomy::NearestNeighbor => (
            "nearest_neighbor",
            Value::Null,
            json!({
                "classifier": "1-nearest neighbour",
                "kernel": "z^(2^L) * g_L(z), g_L positive and increasing",
            }),
        ),
        Taxonomy::MajorityVote(phase) => (
            "majority_vote",
            Value::Null,
            match phase {
                Phase::Chaotic {
                    fixed_point,
                    off_diagonal,
                } => json!({
                    "classifier": "majority vote",
                    "phase": "chaotic",
                    "fixed_point": fixed_point,
                    "off_diagonal": off_diagonal,
                    "diagonal": "(B_prime^(L + 1) - 1) / (B_prime - 1), diverging",
                }),
                Phase::Ordered { limit } => json!({
                    "classifier": "majority vote",
                    "phase": "ordered",
                    "off_diagonal": limit,
                    "diagonal": limit,
                }),
                Phase::EdgeOfChaos {
                    exponent,
                    off_diagonal,
                } => json!({
                    "classifier": "majority vote",
                    "phase": "edge_of_chaos",
                    "normalization": "L + 1",
                    "off_diagonal": off_diagonal,
                    "diagonal": 1.0,
                    "exponent": exponent,
                }),
            },
        ),
    };
    let report = Report(json!({
        "activation": activation.name(),
        "taxonomy": name,
        "order": order,
        "A": m.a,
        "A_prime": m.a_prime,
        "B_prime": m.b_prime,
        "limit": limit,
    }));
    Ok(write_output(args.out.as_deref(), &report)?)
}
