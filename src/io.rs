//! Reading points from CSV and `.npy` files (one point per row), and writing arrays as `.npy` and
//! numpy `.npz` archives, as the command-line tool does.
//!
//! The `.npy` format (header, dtype, memory order) is handled by the [`npyz`] crate; an `.npz` file
//! is a zip archive of `.npy` members named `<array>.npy` (numpy's `np.savez`), written with the
//! [`zip`] crate, uncompressed as `np.savez` does. `np.load("out.npz")["name"]` reads each array back.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::io::{NpyArray, NpzWriter};
//!
//! let x = ntk::io::parse_csv("1.0, 2.0\n3.0, 4.0\n", "inline")?;
//! assert_eq!(x.shape(), (2, 2));
//! assert_eq!(x[(1, 0)], 3.0);
//! // `.npy` bytes round-trip exactly.
//! assert_eq!(ntk::io::parse_npy(&ntk::io::to_npy(&x), "x.npy")?, x);
//! // An `.npz` archive of named arrays (here in memory; `NpzWriter::create` writes a file).
//! let mut npz = NpzWriter::new(std::io::Cursor::new(Vec::new()), "in memory");
//! npz.add("x", &NpyArray::from_matrix(&x))?;
//! npz.add("diagonal", &NpyArray::float64(vec![2], vec![1.0, 4.0])?)?;
//! let bytes = npz.finish()?.into_inner();
//! assert_eq!(&bytes[..2], b"PK");
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::{Error, Result};
use nalgebra::{Complex, DMatrix};
use npyz::{DType, NpyHeader, Order, TypeChar, WriterBuilder};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Reads points from `path`, one per row, with the shape of one point: a `.npy` array of any
/// dimension ≥ 2 (float64, either memory order) of shape (n, …) gives n rows holding each point
/// flattened in C order (channels last for (n, H, W, C) images) and the shape (…); CSV gives its
/// rows and `[columns]`.
pub fn read_points(path: &Path) -> Result<(DMatrix<f64>, Vec<usize>)> {
    let name = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("npy") {
        return read_npy_points(path, &name);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read {name}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Io(format!("{name}: a CSV file must be UTF-8 text")))?;
    let x = parse_csv(&text, &name)?;
    let d = x.ncols();
    Ok((x, vec![d]))
}

/// The most header bytes [`read_points`] reads before the data (numpy writes headers of a few
/// hundred bytes; version 1 headers cannot exceed 64 KiB).
const NPY_HEADER_MAX: u64 = 1 << 20;

/// [`parse_npy_points`] on a file, streamed: the header is read first, then the data are decoded
/// block by block (1 MiB) straight into the matrix, so the peak memory is the matrix itself plus
/// the buffer — not the file's bytes, the decoded values and the matrix (three copies).
fn read_npy_points(path: &Path, name: &str) -> Result<(DMatrix<f64>, Vec<usize>)> {
    let fail = |e: std::io::Error| Error::Io(format!("cannot read {name}: {e}"));
    let mut file = File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(NPY_HEADER_MAX)
        .read_to_end(&mut head)
        .map_err(fail)?;
    let (layout, header_len) = npy_layout(&head, name)?;
    layout.check_data_len(len - header_len as u64, name)?;
    file.seek(SeekFrom::Start(header_len as u64))
        .map_err(fail)?;
    let x = layout.decode(file, name)?;
    Ok((x, layout.shape))
}

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
    parse_rows(text, name, "values", |f, ln| {
        f.parse::<f64>().map_err(|_| {
            Error::Io(format!(
                "{name}, line {ln}: `{f}` is not a number (CSV without header expected)"
            ))
        })
    })
}

/// Parses CSV text in which an empty field is a missing entry (`None`), as `ntk complete` reads the
/// observed matrix: one row per line, values separated by commas, no header, blank lines skipped.
/// Every row must have the same number of fields.
///
/// ```
/// let y = ntk::io::parse_csv_missing("1, , 2\n,3,\n", "inline")?;
/// assert_eq!(y.shape(), (2, 3));
/// assert_eq!((y[(0, 1)], y[(1, 1)]), (None, Some(3.0)));
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn parse_csv_missing(text: &str, name: &str) -> Result<DMatrix<Option<f64>>> {
    parse_rows(text, name, "fields", |f, ln| match f {
        "" => Ok(None),
        t => t.parse::<f64>().map(Some).map_err(|_| {
            Error::Io(format!(
                "{name}, line {ln}: `{t}` is not a number (leave a missing entry empty; CSV \
                 without header expected)"
            ))
        }),
    })
}

/// The rows of CSV text, each trimmed field read by `cell` (with its 1-based line number); blank
/// lines are skipped and every row must have as many `unit`s as the first.
fn parse_rows<T: nalgebra::Scalar>(
    text: &str,
    name: &str,
    unit: &str,
    cell: impl Fn(&str, usize) -> Result<T>,
) -> Result<DMatrix<T>> {
    let mut rows: Vec<Vec<T>> = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = line
            .split(',')
            .map(|f| cell(f.trim(), ln + 1))
            .collect::<Result<Vec<T>>>()?;
        if let Some(first) = rows.first() {
            if first.len() != row.len() {
                return Err(Error::ShapeMismatch {
                    what: format!("{name}, line {}", ln + 1),
                    expected: format!("{} {unit} per row", first.len()),
                    found: format!("{} {unit}", row.len()),
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

/// Parses the bytes of a `.npy` file holding a 2-D float64 array (`<f8` or `>f8`, C or Fortran
/// order) into a matrix with the array's rows as rows; `name` labels the errors.
///
/// Errors: [`Error::Io`] for a file that is not `.npy`, a dtype other than float64 (the message says
/// how to convert) or data that does not match the header's shape (a truncated file);
/// [`Error::ShapeMismatch`] for an array that is not 2-D.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<DMatrix<f64>> {
    let (x, shape) = parse_npy_points(bytes, name)?;
    if shape.len() != 1 {
        return Err(Error::ShapeMismatch {
            what: name.to_string(),
            expected: "a 2-D array (points × features)".into(),
            found: format!("{}-D array", shape.len() + 1),
        });
    }
    Ok(x)
}

/// Parses a `.npy` file of shape (n, s₁, …, s_k), k ≥ 1, float64 in either memory order, into n
/// rows of s₁·…·s_k values in C order (the last axis fastest), and the shape (s₁, …, s_k).
pub fn parse_npy_points(bytes: &[u8], name: &str) -> Result<(DMatrix<f64>, Vec<usize>)> {
    let (layout, header_len) = npy_layout(bytes, name)?;
    let data = &bytes[header_len..];
    layout.check_data_len(data.len() as u64, name)?;
    let x = layout.decode(data, name)?;
    Ok((x, layout.shape))
}

/// What the header of a float64 `.npy` file of points declares.
struct NpyLayout {
    /// Points (the first axis).
    n: usize,
    /// The shape of one point.
    shape: Vec<usize>,
    /// Values per point.
    d: usize,
    order: Order,
    big_endian: bool,
}

/// The error of a `.npy` file that cannot be read, naming the file.
fn bad_npy(name: &str, why: impl std::fmt::Display) -> Error {
    Error::Io(format!("{name}: not a supported .npy file: {why}"))
}

/// Parses and checks the header at the start of `bytes`: the layout and the header's length in
/// bytes (where the data start).
fn npy_layout(bytes: &[u8], name: &str) -> Result<(NpyLayout, usize)> {
    let bad = |why: String| bad_npy(name, why);
    if declared_size_overflows(bytes) {
        return Err(bad(
            "its header declares dimensions whose product exceeds 2^64 (damaged header)".into(),
        ));
    }
    let mut data = bytes;
    let header = NpyHeader::from_reader(&mut data).map_err(|e| {
        bad(match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                "the file ends inside its header (truncated)".into()
            }
            _ => e.to_string(),
        })
    })?;
    let header_len = bytes.len() - data.len();
    let dims = header.shape();
    if dims.len() < 2 {
        return Err(Error::ShapeMismatch {
            what: name.to_string(),
            expected: "a 2-D array (points × features) or (points, H, W, C) / (points, L, C)"
                .into(),
            found: format!("{}-D array", dims.len()),
        });
    }
    let big_endian = match header.dtype() {
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => {
            t.endianness() == npyz::Endianness::Big
        }
        other => {
            return Err(bad(format!(
                "dtype {} (float64 `<f8` required; convert with x.astype(np.float64))",
                other.descr()
            )));
        }
    };
    let too_large = || bad(format!("the shape {dims:?} does not fit in memory"));
    let n = usize::try_from(dims[0]).map_err(|_| too_large())?;
    let shape: Vec<usize> = dims[1..]
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| too_large()))
        .collect::<Result<_>>()?;
    let d = shape
        .iter()
        .try_fold(1usize, |a, &s| a.checked_mul(s))
        .ok_or_else(too_large)?;
    let layout = NpyLayout {
        n,
        shape,
        d,
        order: header.order(),
        big_endian,
    };
    Ok((layout, header_len))
}

impl NpyLayout {
    /// Fails unless the data after the header are exactly the n·d values the shape declares.
    fn check_data_len(&self, have: u64, name: &str) -> Result<()> {
        let need = self.n.checked_mul(self.d).and_then(|m| m.checked_mul(8));
        if need.map(|b| b as u64) == Some(have) {
            return Ok(());
        }
        Err(bad_npy(
            name,
            format!(
                "the shape ({}, {}) needs {} bytes of data, the file holds {have} (truncated or \
                 damaged)",
                self.n,
                self.d,
                need.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string()),
            ),
        ))
    }

    /// Decodes the n·d values from `data` (already checked for length) into n rows of d values
    /// in C order over a point's axes, 1 MiB at a time, each value written once into place.
    fn decode(&self, mut data: impl Read, name: &str) -> Result<DMatrix<f64>> {
        let (n, d) = (self.n, self.d);
        let mut x = crate::linalg::alloc_matrix(n, d, "matrix of points")?;
        // Fortran order runs over (point, s₁, …, s_k) with the first axis fastest: its value
        // (i, f) goes to column `column[f]` of row i, where f is the Fortran offset of the
        // point's element and `column[f]` its C-order offset (channels last).
        let column: Vec<usize> = match self.order {
            Order::C => Vec::new(),
            Order::Fortran => {
                let mut column = vec![0; d];
                for (m, slot) in (0..d).map(|m| (m, self.fortran_offset(m))) {
                    column[slot] = m;
                }
                column
            }
        };
        let dst = x.as_mut_slice();
        let mut buf = vec![0u8; (1 << 20).min(n.saturating_mul(d).saturating_mul(8))];
        let mut left = n * d;
        // The position of the next value: (row, column) in C order, (row, f) in Fortran order.
        let (mut i, mut k) = (0usize, 0usize);
        while left > 0 {
            let count = (buf.len() / 8).min(left);
            data.read_exact(&mut buf[..count * 8])
                .map_err(|e| bad_npy(name, format!("reading the data: {e}")))?;
            for chunk in buf[..count * 8].chunks_exact(8) {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                let v = if self.big_endian {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                match self.order {
                    Order::C => {
                        dst[i + n * k] = v;
                        k += 1;
                        if k == d {
                            (i, k) = (i + 1, 0);
                        }
                    }
                    Order::Fortran => {
                        dst[i + n * column[k]] = v;
                        i += 1;
                        if i == n {
                            (i, k) = (0, k + 1);
                        }
                    }
                }
            }
            left -= count;
        }
        Ok(x)
    }

    /// The Fortran-order offset, within one point, of the element at C-order offset `m`.
    fn fortran_offset(&self, m: usize) -> usize {
        let mut idx = vec![0; self.shape.len()];
        let mut rest = m;
        for (a, &s) in self.shape.iter().enumerate().rev() {
            idx[a] = rest % s;
            rest /= s;
        }
        let (mut f, mut stride) = (0, 1);
        for (a, &s) in self.shape.iter().enumerate() {
            f += idx[a] * stride;
            stride *= s;
        }
        f
    }
}

/// Whether the dimensions of the `shape` in a `.npy` header multiply to 2^64 or more, leaving out
/// zeros (which make the size 0 but not the partial products, as in `(0, 2**40, 2**40)`).
///
/// npyz multiplies the dimensions (and their prefixes, for the strides) without checking, which
/// panics in builds with overflow checks (the dev profile), so such a header is caught before npyz
/// sees it. Anything unreadable here is left to npyz, which reports it. The framing is numpy's: the magic `\x93NUMPY`, the version, the
/// header length (u16 in version 1, u32 after), then the header, a Python dict literal.
fn declared_size_overflows(bytes: &[u8]) -> bool {
    use num_traits::ToPrimitive;
    let (len, start): (usize, usize) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        Some(2 | 3) if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return false,
    };
    let Some(text) = bytes
        .get(start..start.saturating_add(len))
        .and_then(|h| std::str::from_utf8(h).ok())
    else {
        return false;
    };
    let Ok(py_literal::Value::Dict(entries)) = text.trim().parse::<py_literal::Value>() else {
        return false;
    };
    let shape = entries.iter().find_map(|(key, value)| match (key, value) {
        // numpy writes a tuple; npyz also accepts a list.
        (
            py_literal::Value::String(k),
            py_literal::Value::Tuple(dims) | py_literal::Value::List(dims),
        ) if k == "shape" => Some(dims),
        _ => None,
    });
    let Some(dims) = shape else { return false };
    let dims: Option<Vec<u64>> = dims
        .iter()
        .map(|d| match d {
            py_literal::Value::Integer(n) => n.to_u64(),
            _ => None,
        })
        .collect();
    // A dimension beyond u64 (or a negative one) npyz rejects itself; only the products are unchecked.
    dims.is_some_and(|dims| {
        dims.iter()
            .filter(|&&n| n != 0)
            .try_fold(1u64, |acc, &n| acc.checked_mul(n))
            .is_none()
    })
}

/// Encodes a matrix as the bytes of a `.npy` file (float64 `<f8`, C order), as `np.save` writes it.
pub fn to_npy(x: &DMatrix<f64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail, and `from_matrix` gives exactly as many values as its shape.
    write_npy(&mut bytes, &NpyArray::from_matrix(x), "a .npy buffer")
        .expect("a matrix encodes into memory");
    bytes
}

/// Writes a matrix to the `.npy` file `path` (float64 `<f8`, C order, as `np.save` writes it),
/// row by row through a buffer: unlike [`to_npy`] or an [`NpyArray`], no copy of the matrix is
/// made, so a large kernel tile is written in the memory it already takes.
///
/// ```no_run
/// let k = nalgebra::DMatrix::from_fn(3, 2, |i, j| (i * 2 + j) as f64);
/// ntk::io::save_npy(std::path::Path::new("tile.npy"), &k)?;
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn save_npy(path: &Path, m: &DMatrix<f64>) -> Result<()> {
    let fail = |e: std::io::Error| Error::Io(format!("cannot write {}: {e}", path.display()));
    let mut w = BufWriter::new(File::create(path).map_err(fail)?);
    let mut out = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(&[m.nrows() as u64, m.ncols() as u64])
        .writer(&mut w)
        .begin_nd()
        .map_err(fail)?;
    for row in m.row_iter() {
        out.extend(row.iter().copied()).map_err(fail)?;
    }
    out.finish().map_err(fail)?;
    w.flush().map_err(fail)
}

/// The values of an [`NpyArray`], in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// numpy `float64` (`<f8`).
    Float64(Vec<f64>),
    /// numpy `complex128` (`<c16`): real and imaginary part as two float64.
    Complex128(Vec<Complex<f64>>),
}

impl NpyData {
    fn len(&self) -> usize {
        match self {
            NpyData::Float64(v) => v.len(),
            NpyData::Complex128(v) => v.len(),
        }
    }
}

/// An n-dimensional array to store in a `.npy` file or an `.npz` archive: its shape and its values
/// in C order (the last index varies fastest), as numpy holds it by default.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    shape: Vec<usize>,
    data: NpyData,
}

impl NpyArray {
    /// An array of the given shape and values (C order).
    ///
    /// Errors with [`Error::ShapeMismatch`] when the number of values is not the product of the
    /// shape (an empty shape is a scalar: one value).
    pub fn new(shape: Vec<usize>, data: NpyData) -> Result<Self> {
        let count = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
        if count != Some(data.len()) {
            return Err(Error::ShapeMismatch {
                what: "array values".into(),
                expected: format!("as many values as the shape {shape:?} holds"),
                found: format!("{} values", data.len()),
            });
        }
        Ok(NpyArray { shape, data })
    }

    /// A float64 array; see [`NpyArray::new`].
    pub fn float64(shape: Vec<usize>, values: Vec<f64>) -> Result<Self> {
        NpyArray::new(shape, NpyData::Float64(values))
    }

    /// A 2-D float64 array holding the matrix (its rows as the array's rows).
    pub fn from_matrix(m: &DMatrix<f64>) -> Self {
        // nalgebra stores columns; the transpose's storage is the matrix in row-major order.
        NpyArray {
            shape: vec![m.nrows(), m.ncols()],
            data: NpyData::Float64(m.transpose().as_slice().to_vec()),
        }
    }

    /// A 3-D float64 array stacking matrices of one shape: element `[k, i, j]` is `ms[k][(i, j)]`.
    ///
    /// Errors with [`Error::ShapeMismatch`] when the matrices differ in shape. With no matrices the
    /// shape is `(0, 0, 0)`.
    pub fn from_matrices(ms: &[&DMatrix<f64>]) -> Result<Self> {
        let (r, c) = ms.first().map_or((0, 0), |m| m.shape());
        if let Some(m) = ms.iter().find(|m| m.shape() != (r, c)) {
            return Err(Error::ShapeMismatch {
                what: "matrices to stack".into(),
                expected: format!("all {r} × {c}, as the first"),
                found: format!("{} × {}", m.nrows(), m.ncols()),
            });
        }
        let values = ms
            .iter()
            .flat_map(|m| m.transpose().as_slice().to_vec())
            .collect();
        NpyArray::float64(vec![ms.len(), r, c], values)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, in C order.
    pub fn data(&self) -> &NpyData {
        &self.data
    }
}

/// Writes `array` as a complete `.npy` file to `w`; `what` labels the errors.
fn write_npy(w: impl Write, array: &NpyArray, what: &str) -> Result<()> {
    let shape: Vec<u64> = array.shape.iter().map(|&n| n as u64).collect();
    let fail = |e: std::io::Error| Error::Io(format!("cannot write {what}: {e}"));
    match &array.data {
        NpyData::Float64(values) => write_values(w, &shape, values).map_err(fail),
        NpyData::Complex128(values) => write_values(w, &shape, values).map_err(fail),
    }
}

/// The `.npy` header for `shape` and element type `T`, then `values` in C order.
fn write_values<T: npyz::AutoSerialize + Copy>(
    w: impl Write,
    shape: &[u64],
    values: &[T],
) -> std::io::Result<()> {
    let mut out = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(shape)
        .writer(w)
        .begin_nd()?;
    out.extend(values.iter().copied())?;
    out.finish()
}

/// Writes a numpy `.npz` archive: one `<name>.npy` member per [`add`](NpzWriter::add)ed array,
/// uncompressed, as `np.savez` does; `np.load(path)[name]` returns each array.
///
/// The archive is complete only after [`finish`](NpzWriter::finish).
pub struct NpzWriter<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    label: String,
}

impl NpzWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path)
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
        Ok(NpzWriter::new(
            BufWriter::new(file),
            &path.display().to_string(),
        ))
    }
}

impl<W: Write + Seek> NpzWriter<W> {
    /// An archive written to `writer`; `label` names it in error messages (e.g. the file's path).
    pub fn new(writer: W, label: &str) -> Self {
        NpzWriter {
            zip: zip::ZipWriter::new(writer),
            label: label.to_string(),
        }
    }

    /// Adds `array` under `name` (the key numpy's `np.load` gives it). A name already in the
    /// archive is an error.
    pub fn add(&mut self, name: &str, array: &NpyArray) -> Result<()> {
        let label = format!("array `{name}` of {}", self.label);
        // Zip64 entries whatever the size, as numpy's own `savez` writes them: a member may exceed
        // 4 GiB, and its size is only known once written.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        self.zip
            .start_file(npyz::npz::file_name_from_array_name(name), options)
            .map_err(|e| Error::Io(format!("cannot write {label}: {e}")))?;
        // The zip writer checksums every write; buffering hands it large blocks.
        let mut member = BufWriter::new(&mut self.zip);
        write_npy(&mut member, array, &label)?;
        member
            .flush()
            .map_err(|e| Error::Io(format!("cannot write {label}: {e}")))
    }

    /// Writes the archive's directory and returns the writer.
    pub fn finish(self) -> Result<W> {
        let label = self.label;
        let mut inner = self
            .zip
            .finish()
            .map_err(|e| Error::Io(format!("cannot write {label}: {e}")))?;
        inner
            .flush()
            .map_err(|e| Error::Io(format!("cannot write {label}: {e}")))?;
        Ok(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::NpyFile;

    /// A `.npy` file's bytes with the given header dictionary and data.
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let header = format!("{dict}\n");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn le(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn npy_round_trip_and_errors() {
        let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        let bytes = to_npy(&x);
        // numpy's layout: version 1.0, header padded so that the data starts at a multiple of 64.
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        assert_eq!((bytes.len() - 6 * 8) % 64, 0);
        assert_eq!(parse_npy(&bytes, "t").unwrap(), x);
        assert!(matches!(parse_npy(b"garbage!!!!", "t"), Err(Error::Io(_))));
        let err = parse_npy(&bytes[..20], "t").unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut short = bytes.clone();
        short.pop();
        let err = parse_npy(&short, "t").unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut long = bytes;
        long.push(0);
        assert!(matches!(parse_npy(&long, "t"), Err(Error::Io(_))));
    }

    #[test]
    fn npy_orders_and_byte_orders() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let c = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            &le(&values),
        );
        let f = npy(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &le(&values),
        );
        let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let big = npy(
            "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }",
            &be,
        );
        let want_c = DMatrix::from_row_slice(2, 3, &values);
        assert_eq!(parse_npy(&c, "c").unwrap(), want_c);
        assert_eq!(parse_npy(&big, "big").unwrap(), want_c);
        assert_eq!(
            parse_npy(&f, "f").unwrap(),
            DMatrix::from_column_slice(2, 3, &values)
        );
    }

    #[test]
    fn npy_wrong_dtype_and_dimensions_are_typed_errors() {
        let int = npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }",
            &[0; 16],
        );
        let err = parse_npy(&int, "int.npy").unwrap_err();
        assert!(matches!(err, Error::Io(_)));
        let msg = err.to_string();
        assert!(msg.contains("int.npy") && msg.contains("<i8") && msg.contains("astype"));
        let single = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
            &[0; 8],
        );
        assert!(
            parse_npy(&single, "f4")
                .unwrap_err()
                .to_string()
                .contains("<f4")
        );
        let one_d = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            &le(&[1.0, 2.0]),
        );
        assert!(matches!(
            parse_npy(&one_d, "t"),
            Err(Error::ShapeMismatch { found, .. }) if found == "1-D array"
        ));
        let three_d = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }",
            &le(&[1.0]),
        );
        assert!(matches!(
            parse_npy(&three_d, "t"),
            Err(Error::ShapeMismatch { .. })
        ));
        // Shapes whose products overflow are clean errors, not panics or allocations, in every
        // build profile and memory order; so is one whose byte count alone overflows.
        for shape in [
            "(4294967296, 4294967296)",
            "(0, 4294967296, 4294967296)",
            "(4294967296, 4294967296, 0)",
            "(4611686018427387904, 2)",
            "[4294967296, 4294967296]",
        ] {
            for order in ["False", "True"] {
                let dict =
                    format!("{{'descr': '<f8', 'fortran_order': {order}, 'shape': {shape}, }}");
                let err = parse_npy(&npy(&dict, &[]), "t").unwrap_err();
                assert!(matches!(err, Error::Io(_)), "{shape}: {err}");
            }
        }
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

    #[test]
    fn array_shapes_are_checked() {
        assert!(NpyArray::float64(vec![2, 3], vec![0.0; 6]).is_ok());
        assert!(matches!(
            NpyArray::float64(vec![2, 3], vec![0.0; 5]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert_eq!(
            NpyArray::float64(vec![], vec![1.0]).unwrap().shape(),
            &[] as &[usize]
        );
        let a = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
        let b = DMatrix::from_row_slice(2, 1, &[1.0, 2.0]);
        assert!(matches!(
            NpyArray::from_matrices(&[&a, &b]),
            Err(Error::ShapeMismatch { .. })
        ));
        let stacked = NpyArray::from_matrices(&[&a, &(&a * 2.0)]).unwrap();
        assert_eq!(stacked.shape(), &[2, 1, 2]);
        assert_eq!(stacked.data(), &NpyData::Float64(vec![1.0, 2.0, 2.0, 4.0]));
    }

    #[test]
    fn npz_members_are_npy_files_and_names_are_unique() {
        let x = DMatrix::from_row_slice(2, 2, &[1.0, -2.0, 0.5, 1e-300]);
        let z = NpyArray::new(
            vec![2],
            NpyData::Complex128(vec![Complex::new(1.0, -1.0), Complex::new(0.0, 2.5)]),
        )
        .unwrap();
        let mut npz = NpzWriter::new(std::io::Cursor::new(Vec::new()), "mem");
        npz.add("x", &NpyArray::from_matrix(&x)).unwrap();
        npz.add("z", &z).unwrap();
        assert!(matches!(
            npz.add("x", &NpyArray::from_matrix(&x)),
            Err(Error::Io(_))
        ));
        let bytes = npz.finish().unwrap().into_inner();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<&str> = archive.file_names().collect();
        assert_eq!(names.len(), 2);
        let mut member = Vec::new();
        std::io::copy(&mut archive.by_name("x.npy").unwrap(), &mut member).unwrap();
        assert_eq!(member, to_npy(&x));
        let mut member = Vec::new();
        std::io::copy(&mut archive.by_name("z.npy").unwrap(), &mut member).unwrap();
        let file = NpyFile::new(&member[..]).unwrap();
        assert_eq!(file.dtype().descr(), "'<c16'");
        assert_eq!(file.shape(), &[2]);
        let values: Vec<Complex<f64>> = file.into_vec().unwrap();
        assert_eq!(NpyData::Complex128(values), z.data);
    }
}
