//! Reading the inputs (network spec, point files) and writing the output (JSON, or a numpy `.npz`
//! archive), shared by the subcommands.
//!
//! An output is a `#[derive(Serialize)]` struct whose fields are the wrappers below; each wrapper
//! says how its field looks in JSON (nested lists, by rows) and in `.npz` (an n-dimensional array),
//! and [`Output::arrays`] lists the fields under their JSON keys for the `.npz` form.

use nalgebra::{Complex, DMatrix};
use ntk::io::{NpyArray, NpyData, NpzWriter};
use ntk::{Error, Network};
use serde::ser::{Error as _, Serialize, Serializer};
use std::io::Write;
use std::path::Path;

/// Reads the network spec at `path` (the JSON form of [`Network`]).
pub fn read_network(path: &Path) -> ntk::Result<Network> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Io(format!(
            "cannot read the network spec {}: {e}",
            path.display()
        ))
    })?;
    // Name the file in spec errors: the library's message cannot know where the JSON came from.
    Network::from_json(&text).map_err(|e| match e {
        Error::InvalidNetwork(msg) => Error::InvalidNetwork(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Reads the matrix given to `flag` (targets, or a vector network's inputs) and rejects NaN/±∞
/// here, where the flag and file are known: the library can only name the argument (`x` for a Gram
/// matrix) and counts rows from 0, unlike CSV line numbers.
pub fn read_values(flag: &str, path: &Path) -> ntk::Result<DMatrix<f64>> {
    finite(flag, path, ntk::io::read_matrix(path)?)
}

/// Reads the inputs given to `flag` for `net`, as [`read_values`]. A `.npy` file of shape
/// (n, H, W, C) or (n, L, C) must match the network's `input_shape`; a 2-D file (or CSV) holds one
/// flattened channels-last input per row.
pub fn read_points(flag: &str, path: &Path, net: &Network) -> ntk::Result<DMatrix<f64>> {
    let (x, shape) = ntk::io::read_points(path)?;
    let mismatch = |expected: String| Error::ShapeMismatch {
        what: format!("{flag} {}: the shape of one input", path.display()),
        expected,
        found: format!("{shape:?}"),
    };
    match net.input_shape() {
        Some(need) if shape.len() > 1 && shape != need => {
            return Err(mismatch(format!(
                "the network's input_shape {need:?}: an array of shape (points, {})",
                need.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(need) if shape.len() == 1 && shape[0] != need.iter().product::<usize>() => {
            return Err(mismatch(format!(
                "[{}]: the input_shape {need:?} flattened channels last, one input per row",
                need.iter().product::<usize>()
            )));
        }
        None if shape.len() > 1 => {
            return Err(mismatch(
                "a 2-D array (points × features): the network has no input_shape; give it one \
                 in the spec for image or sequence inputs"
                    .into(),
            ));
        }
        _ => {}
    }
    finite(flag, path, x)
}

/// Fails unless the targets of `--train-y` have one row per training point of `--train-x`.
pub fn check_targets(
    (x_path, x): (&Path, &DMatrix<f64>),
    (y_path, y): (&Path, &DMatrix<f64>),
) -> ntk::Result<()> {
    if y.nrows() == x.nrows() {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        what: format!("--train-y {}", y_path.display()),
        expected: format!(
            "{} rows, one per training point of --train-x {}",
            x.nrows(),
            x_path.display()
        ),
        found: format!("{} rows", y.nrows()),
    })
}

fn finite(flag: &str, path: &Path, x: DMatrix<f64>) -> ntk::Result<DMatrix<f64>> {
    if let Some(((i, j), value)) = first_non_finite(&x) {
        return Err(Error::NonFinite {
            what: format!("{flag} {}", path.display()),
            location: format!("row {}, column {} (counting from 1)", i + 1, j + 1),
            value,
        });
    }
    Ok(x)
}

/// The first non-finite entry in row-major order (the order of the file), if any.
///
/// Scans the stored entries rather than looping over rows and columns: a `.npy` header may declare
/// an absurd row count with zero columns, and a row loop would then spin without touching any data.
fn first_non_finite(x: &DMatrix<f64>) -> Option<((usize, usize), f64)> {
    let n = x.nrows();
    // Column-major storage: entry k is row k % n, column k / n.
    x.as_slice()
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_finite())
        .map(|(k, &v)| ((k % n, k / n), v))
        .min_by_key(|&(ij, _)| ij)
}

/// A subcommand's result: serialized as JSON, or stored as the `.npz` arrays it lists.
pub trait Output: Serialize {
    /// The fields under their JSON keys, in the JSON's order (absent optional fields left out).
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)>;
}

/// A field's `.npz` form.
pub trait ToNpy {
    /// The field as an n-dimensional array.
    fn to_npy(&self) -> ntk::Result<NpyArray>;
}

/// Writes `output` to `out` — a `.npz` archive when its name ends in `.npz`, JSON otherwise — or as
/// JSON to standard output.
pub fn write_output(out: Option<&Path>, output: &impl Output) -> ntk::Result<()> {
    if let Some(path) = out.filter(|p| is_npz(p)) {
        let mut npz = NpzWriter::create(path)?;
        // One array at a time: each is converted, written and dropped before the next.
        for (name, field) in output.arrays() {
            npz.add(name, &field.to_npy()?)?;
        }
        npz.finish()?;
        return Ok(());
    }
    let mut json = serde_json::to_vec_pretty(output).map_err(|e| Error::Io(e.to_string()))?;
    json.push(b'\n');
    match out {
        Some(path) => std::fs::write(path, json)
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display()))),
        None => {
            // Not `print!`: it panics when stdout is closed (e.g. piped into `head`).
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&json)
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::Io(format!("cannot write to standard output: {e}")))
        }
    }
}

fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// A number for JSON. JSON has no NaN or ∞, and serde_json would write `null`, silently corrupting
/// the result, so a non-finite value fails the serialization instead; the library already reports
/// overflow, so this is only a guard. (`.npz` stores such values as they are.)
struct Finite(f64);

impl Serialize for Finite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            Err(S::Error::custom(format!(
                "the output holds the value {}, which JSON cannot represent; \
                 write it as .npz instead (--out FILE.npz)",
                self.0
            )))
        }
    }
}

/// A matrix: JSON a list of its rows; `.npz` a 2-D array.
pub struct Rows<'a>(pub &'a DMatrix<f64>);

/// Row `.1` of matrix `.0`, as a JSON list.
struct Row<'a>(&'a DMatrix<f64>, usize);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.row(self.1).iter().map(|&v| Finite(v)))
    }
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.nrows()).map(|i| Row(self.0, i)))
    }
}

impl ToNpy for Rows<'_> {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        Ok(NpyArray::from_matrix(self.0))
    }
}

/// Matrices of one shape, one per point or time: JSON a list of matrices (each a list of rows);
/// `.npz` a 3-D array whose first index picks the matrix.
pub struct Stack<'a>(pub Vec<&'a DMatrix<f64>>);

impl Serialize for Stack<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| Rows(m)))
    }
}

impl ToNpy for Stack<'_> {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        NpyArray::from_matrices(&self.0)
    }
}

/// A list of numbers: JSON a list; `.npz` a 1-D array.
pub struct Values(pub Vec<f64>);

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&v| Finite(v)))
    }
}

impl ToNpy for Values {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        NpyArray::float64(vec![self.0.len()], self.0.clone())
    }
}

/// A half-open range of points a..b: JSON `[a, b]` (integers); `.npz` a float64 array `[a, b]`.
pub struct Span(pub usize, pub usize);

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.0 as u64, self.1 as u64].serialize(s)
    }
}

impl ToNpy for Span {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        NpyArray::float64(vec![2], vec![self.0 as f64, self.1 as f64])
    }
}

/// A count: JSON an integer; `.npz` a 0-d float64 array.
pub struct Count(pub usize);

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0 as u64)
    }
}

impl ToNpy for Count {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        NpyArray::float64(vec![], vec![self.0 as f64])
    }
}

/// Training times, each ≥ 0 or +∞: JSON a list of numbers with t = ∞ as the string `"inf"`;
/// `.npz` a 1-D float64 array holding +inf itself.
pub struct Times<'a>(pub &'a [f64]);

/// One training time, as [`Times`] writes it.
struct Time(f64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == f64::INFINITY {
            s.serialize_str("inf")
        } else {
            Finite(self.0).serialize(s)
        }
    }
}

impl Serialize for Times<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&t| Time(t)))
    }
}

impl ToNpy for Times<'_> {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        NpyArray::float64(vec![self.0.len()], self.0.to_vec())
    }
}

/// Complex eigenvalues, one list of d per point: JSON a list per point of `[re, im]` pairs;
/// `.npz` a complex128 array, points × d.
pub struct Eigenvalues<'a>(pub Vec<&'a [Complex<f64>]>);

/// One point's eigenvalues, as `[re, im]` pairs.
struct Pairs<'a>(&'a [Complex<f64>]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|z| [Finite(z.re), Finite(z.im)]))
    }
}

impl Serialize for Eigenvalues<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|z| Pairs(z)))
    }
}

impl ToNpy for Eigenvalues<'_> {
    fn to_npy(&self) -> ntk::Result<NpyArray> {
        let d = self.0.first().map_or(0, |z| z.len());
        if let Some(z) = self.0.iter().find(|z| z.len() != d) {
            return Err(Error::ShapeMismatch {
                what: "eigenvalue lists".into(),
                expected: format!("{d} eigenvalues per point, as the first"),
                found: format!("{}", z.len()),
            });
        }
        let values = self.0.iter().flat_map(|z| z.iter().copied()).collect();
        NpyArray::new(vec![self.0.len(), d], NpyData::Complex128(values))
    }
}
