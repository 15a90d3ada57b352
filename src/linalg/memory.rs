//! Memory reservation before large allocations: a problem too large for the machine is
//! [`Error::TooLarge`] with the bytes it needs, not an aborted process.

use crate::{Error, Result};
use nalgebra::DMatrix;

/// An n1 × n2 matrix of zeros, or [`Error::TooLarge`] (with the bytes) when it cannot be allocated:
/// huge point counts or widths must not abort the process. Large ones are backed by huge pages.
pub(crate) fn alloc_matrix(n1: usize, n2: usize, what: &str) -> Result<DMatrix<f64>> {
    let too_large = || Error::TooLarge {
        what: format!("a {n1}×{n2} {what}"),
        bytes: n1 as u128 * n2 as u128 * 8,
    };
    let len = n1
        .checked_mul(n2)
        .filter(|l| l.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize))
        .ok_or_else(too_large)?;
    if len == 0 {
        return Ok(DMatrix::zeros(n1, n2));
    }
    // Zeroed by the allocator: for large sizes calloc maps fresh pages, which the kernel zeroes on
    // first touch, so no serial memset runs here and the pages are faulted in by the parallel
    // writers of the kernels (a serial fill of two 4000 × 4000 outputs was a fifth of their time).
    let layout = std::alloc::Layout::array::<f64>(len).map_err(|_| too_large())?;
    // SAFETY: `layout` has a non-zero size (len ≥ 1).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut f64;
    if ptr.is_null() {
        return Err(too_large());
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `len` f64 (so the
    // capacity is `len`), and all `len` elements are initialized (zero bits are 0.0).
    let v = unsafe { Vec::from_raw_parts(ptr, len, len) };
    #[cfg(target_os = "linux")]
    if len * 8 >= 1 << 22 {
        let page = 1usize << 21;
        let start = v.as_ptr() as usize;
        let aligned = start.div_ceil(page) * page;
        let end = start + len * 8;
        if end > aligned + page {
            // SAFETY: the range lies inside `v`'s allocation; MADV_HUGEPAGE only changes how the
            // kernel backs it, never its contents. A failure (e.g. THP disabled) is harmless.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    (end - aligned) / page * page,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    Ok(DMatrix::from_vec(n1, n2, v))
}

/// Fails with [`Error::TooLarge`] (stating the bytes) if `elements` f64 values cannot be allocated
/// now, instead of letting a later allocation abort the process. The reservation is released at
/// once: it tests that the allocator can provide the working memory of the step that follows.
pub(crate) fn ensure_memory(what: &str, elements: u128) -> Result<()> {
    let bytes = elements.saturating_mul(8);
    let too_large = || Error::TooLarge {
        what: what.to_string(),
        bytes,
    };
    let len = usize::try_from(elements)
        .ok()
        .filter(|_| bytes <= isize::MAX as u128)
        .ok_or_else(too_large)?;
    let mut probe: Vec<f64> = Vec::new();
    probe.try_reserve_exact(len).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_working_memory_is_a_typed_error() {
        let e = ensure_memory("factorizing a huge kernel", 1u128 << 70).unwrap_err();
        assert!(matches!(e, Error::TooLarge { bytes, .. } if bytes == 8u128 << 70));
        assert!(e.to_string().contains("bytes"), "{e}");
        let e = ensure_memory("eigendecomposition", 1u128 << 59).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        ensure_memory("a small matrix", 1000).unwrap();
    }
}
