//! The kernel's matrix products, by the `gemm` crate: SIMD kernels picked at run time for the
//! CPU (AVX2 or AVX-512 on x86), which keep these small shapes (k = 16 to 128, n = 16 to 128)
//! fast. The one `unsafe` call of nca is here, behind a safe function over ndarray views.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// `a · b`, a new matrix.
pub(super) fn product(a: &ArrayView2<'_, f32>, b: &ArrayView2<'_, f32>) -> Array2<f32> {
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    matmul(&mut out.view_mut(), a, b, false);
    out
}

/// `out = a · b`, or `out += a · b` when `accumulate`; any strides (a transposed view is free).
///
/// # Panics
/// If the shapes do not chain: `a` is `m × k`, `b` `k × n`, `out` `m × n`.
pub(super) fn matmul(
    out: &mut ArrayViewMut2<'_, f32>,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    accumulate: bool,
) {
    let ([m, k], [k2, n]) = (a.dim().into(), b.dim().into());
    assert!(
        k == k2 && out.dim() == (m, n),
        "matmul of {m}x{k} by {k2}x{n} into {:?}",
        out.dim()
    );
    let [out_rs, out_cs]: [isize; 2] = out.strides().try_into().expect("two strides");
    let [a_rs, a_cs]: [isize; 2] = a.strides().try_into().expect("two strides");
    let [b_rs, b_cs]: [isize; 2] = b.strides().try_into().expect("two strides");
    // SAFETY: each pointer with its strides addresses exactly the elements of its view, whose
    // shape (m × k, k × n, m × n) is what gemm is told, so every read and write is in bounds.
    // `out` is borrowed mutably, so it overlaps neither input. gemm computes
    // out = alpha·out + beta·a·b, reading `out` only when `accumulate`.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            out_cs,
            out_rs,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, s};

    fn counting(rows: usize, cols: usize, step: f32) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| (i * cols + j) as f32 * step - 1.0)
    }

    /// The same as ndarray's own product, for every layout the kernel passes: plain,
    /// transposed operands, a strided output, and accumulation.
    #[test]
    fn agrees_with_ndarray_in_every_layout() {
        for (m, k, n) in [(1, 1, 1), (7, 48, 128), (300, 128, 16), (33, 16, 128)] {
            let a = counting(m, k, 0.01);
            let b = counting(k, n, 0.003);
            let expected = a.dot(&b);
            let close = |got: &Array2<f32>, expected: &Array2<f32>| {
                let worst = (got - expected)
                    .mapv(f32::abs)
                    .fold(0.0f32, |m, &v| m.max(v));
                assert!(worst < 1e-3, "{m}x{k}x{n}: off by {worst}");
            };

            let mut out = Array2::from_elem((m, n), f32::NAN);
            matmul(&mut out.view_mut(), &a.view(), &b.view(), false);
            close(&out, &expected);

            let (at, bt) = (a.t().to_owned(), b.t().to_owned());
            let mut out = Array2::ones((m, n));
            matmul(&mut out.view_mut(), &at.t(), &bt.t(), true);
            close(&out, &(&expected + 1.0));

            let mut wide = Array2::zeros((m, 2 * n));
            matmul(
                &mut wide.slice_mut(s![.., ..;2]),
                &a.view(),
                &b.view(),
                false,
            );
            close(&wide.slice(s![.., ..;2]).to_owned(), &expected);
        }
    }

    #[test]
    #[should_panic(expected = "matmul of 2x3 by 4x5")]
    fn shapes_that_do_not_chain_are_refused() {
        let mut out = Array2::zeros((2, 5));
        matmul(
            &mut out.view_mut(),
            &Array2::zeros((2, 3)).view(),
            &Array2::zeros((4, 5)).view(),
            false,
        );
    }
}
