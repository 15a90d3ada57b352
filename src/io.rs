//! Reading points from CSV and `.npy` files (one point per row), as the command-line tool does.
//!
//! ```
//! let x = ntk::io::parse_csv("1.0, 2.0\n3.0, 4.0\n", "inline").unwrap();
//! assert_eq!(x.shape(), (2, 2));
//! assert_eq!(x[(1, 0)], 3.0);
//! ```

use crate::{Error, Result};
use nalgebra::DMatrix;
use std::path::Path;

/// Reads a matrix from `path`: `.npy` (float64, 2-D, either memory order) or CSV otherwise.
pub fn read_matrix(path: &Path) -> Result<DMatrix<f64>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    let name = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("npy") {
        parse_npy(&bytes, &name)
    } else {
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Io(format!("{name}: a CSV file must be UTF-8 text")))?;
        parse_csv(&text, &name)
    }
}

/// Parses CSV text: one point per line, values separated by commas, no header. Blank lines are skipped.
pub fn parse_csv(text: &str, name: &str) -> Result<DMatrix<f64>> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let row = line
            .split(',')
            .map(|f| {
                f.trim().parse::<f64>().map_err(|_| {
                    Error::Io(format!(
                        "{name}, line {}: `{}` is not a number (CSV without header expected)",
                        ln + 1,
                        f.trim()
                    ))
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        if let Some(first) = rows.first() {
            if first.len() != row.len() {
                return Err(Error::ShapeMismatch {
                    what: format!("{name}, line {}", ln + 1),
                    expected: format!("{} values per row", first.len()),
                    found: format!("{} value(s)", row.len()),
                });
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::Io(format!("{name}: no data rows")));
    }
    let d = rows[0].len();
    Ok(DMatrix::from_row_iterator(
        rows.len(),
        d,
        rows.into_iter().flatten(),
    ))
}

/// Parses a `.npy` file holding a 2-D float64 array (little-endian `<f8`, C or Fortran order).
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<DMatrix<f64>> {
    let bad = |why: &str| Error::Io(format!("{name}: not a supported .npy file: {why}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("format version {v}"))),
    };
    let header = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))?;
        let rest = header[at + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?;
        Some(rest.trim_start())
    };
    let descr = field("descr").ok_or_else(|| bad("no descr"))?;
    if !(descr.starts_with("'<f8'") || descr.starts_with("'float64'")) {
        return Err(bad(&format!(
            "dtype {} (float64 `<f8` required; convert with x.astype(np.float64))",
            descr.split(',').next().unwrap_or("?")
        )));
    }
    let fortran = field("fortran_order")
        .ok_or_else(|| bad("no fortran_order"))?
        .starts_with("True");
    let shape_s = field("shape").ok_or_else(|| bad("no shape"))?;
    let inner = shape_s
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("unreadable shape"))?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("unreadable shape")))
        .collect::<Result<_>>()?;
    if dims.len() != 2 {
        return Err(Error::ShapeMismatch {
            what: name.to_string(),
            expected: "a 2-D array (points × features)".into(),
            found: format!("{}-D array", dims.len()),
        });
    }
    let (n, d) = (dims[0], dims[1]);
    let data = &bytes[start + hlen..];
    let need = n.checked_mul(d).and_then(|m| m.checked_mul(8));
    if need != Some(data.len()) {
        return Err(bad("data length does not match the shape"));
    }
    let vals = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    Ok(if fortran {
        DMatrix::from_iterator(n, d, vals)
    } else {
        DMatrix::from_row_iterator(n, d, vals)
    })
}

/// Encodes a matrix as a `.npy` (version 1, `<f8`, C order) file's bytes.
pub fn to_npy(x: &DMatrix<f64>) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        x.nrows(),
        x.ncols()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            out.extend_from_slice(&x[(i, j)].to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_and_errors() {
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        let y = parse_npy(&to_npy(&x), "t").unwrap();
        assert_eq!(x, y);
        assert!(parse_npy(b"garbage!!!!", "t").is_err());
        let mut short = to_npy(&x);
        short.pop();
        assert!(parse_npy(&short, "t").is_err());
    }

    #[test]
    fn csv_errors_are_typed() {
        assert!(matches!(
            parse_csv("1,2\n3\n", "t"),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(parse_csv("1,a\n", "t"), Err(Error::Io(_))));
        assert!(matches!(parse_csv("\n\n", "t"), Err(Error::Io(_))));
    }
}
