//! The kernel's matrix products, by the `gemm` crate: SIMD kernels picked at run time for the
//! CPU (AVX2 or AVX-512 on x86), which keep these small shapes (k = 16 to 128, n = 16 to 128)
//! fast. The one `unsafe` call of nca is here, behind a safe function over ndarray views.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// `a · b`, a new matrix.
pub(super) fn product(a: &ArrayView2<'_, f32>, b: &ArrayView2<'_, f32>) -> Array2<f32> {
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    matmul(&mut out.view_mut(), a, b);
    out
}

/// `out = a · b`, with any strides (a transposed view is free); `out`'s values before are
/// neither read nor kept.
///
/// # Panics
/// If the shapes do not chain: `a` is `m × k`, `b` `k × n`, `out` `m × n`.
pub(super) fn matmul(
    out: &mut ArrayViewMut2<'_, f32>,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
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
    // out = alpha·out + beta·a·b; told not to read `out`, it ignores alpha.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            out_cs,
            out_rs,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
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

    /// How an operand or the output is stored.
    #[derive(Debug, Clone, Copy)]
    enum Layout {
        /// Row-major and contiguous.
        Plain,
        /// The transpose of a row-major matrix (column-major).
        Transposed,
        /// The first columns of a wider matrix, whose other columns hold NaN: rows further apart
        /// than their length, as a block's rows within a bigger buffer.
        RowStrided,
    }

    /// Values in [-1, 1) of both signs, different for each `salt`.
    fn values(rows: usize, cols: usize, salt: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 31 + j * 17 + salt * 7) % 23) as f32 / 11.5 - 1.0
        })
    }

    /// `values` stored in `layout`, and the view of them that `matmul` is given.
    fn stored(values: &Array2<f32>, layout: Layout) -> Array2<f32> {
        match layout {
            Layout::Plain => values.clone(),
            Layout::Transposed => values.t().as_standard_layout().into_owned(),
            Layout::RowStrided => {
                let mut wide = Array2::from_elem((values.nrows(), values.ncols() + 3), f32::NAN);
                wide.slice_mut(s![.., ..values.ncols()]).assign(values);
                wide
            }
        }
    }

    fn view(stored: &Array2<f32>, layout: Layout, cols: usize) -> ArrayView2<'_, f32> {
        match layout {
            Layout::Plain => stored.view(),
            Layout::Transposed => stored.t(),
            Layout::RowStrided => stored.slice(s![.., ..cols]),
        }
    }

    /// Checks `got` against `a · b` computed in f64, within the error bound of any summation
    /// order in f32: `k · ε · Σ|a||b|` for each value.
    fn assert_product(got: ArrayView2<'_, f32>, a: &Array2<f32>, b: &Array2<f32>, case: &str) {
        let k = a.ncols();
        for ((i, j), &got) in got.indexed_iter() {
            let (mut exact, mut size) = (0.0f64, 0.0f64);
            for l in 0..k {
                let term = f64::from(a[(i, l)]) * f64::from(b[(l, j)]);
                exact += term;
                size += term.abs();
            }
            let bound = k as f64 * f64::from(f32::EPSILON) * size;
            assert!(
                (f64::from(got) - exact).abs() <= bound,
                "{case}: ({i}, {j}) is {got}, not {exact} (within {bound})"
            );
        }
    }

    /// The shapes and operand layouts the kernel passes (`m × k` by `k × n`; a block is 64 to
    /// 1024 cells, the paper's model has C = 16, 3C = 48 and 128 hidden units), each into a
    /// plain output, every other column of a wider one and a window of a bigger one. The values
    /// outside the output's view stay as they were.
    #[test]
    fn agrees_with_the_exact_product_in_the_kernels_shapes_and_layouts() {
        use Layout::{Plain, RowStrided, Transposed};
        let cases = [
            (1, 1, 1, Plain, Plain),
            // Forward: perception → hidden, hidden → update; `m` is a block's cells.
            (64, 48, 128, Plain, Plain),
            (37, 48, 128, RowStrided, Plain),
            (1024, 128, 16, Plain, RowStrided),
            // Backward: grad update · output weightᵀ, grad hidden · hidden weightᵀ.
            (300, 16, 128, Plain, Transposed),
            (64, 128, 48, Plain, Transposed),
            (1024, 128, 48, RowStrided, Transposed),
            // Backward: perceivedᵀ · grad hidden, hiddenᵀ · grad update; `k` is a block's cells.
            (48, 64, 128, Transposed, Plain),
            (48, 1024, 128, Transposed, RowStrided),
            (128, 1024, 16, Transposed, Plain),
            (128, 37, 16, Transposed, Transposed),
        ];
        const UNTOUCHED: f32 = 7.25;
        for (m, k, n, a_layout, b_layout) in cases {
            let case = format!("{m}x{k} ({a_layout:?}) by {k}x{n} ({b_layout:?})");
            let (a, b) = (values(m, k, 1), values(k, n, 2));
            let (a_stored, b_stored) = (stored(&a, a_layout), stored(&b, b_layout));
            let (a_view, b_view) = (view(&a_stored, a_layout, k), view(&b_stored, b_layout, n));
            assert_eq!(
                (a_view, b_view),
                (a.view(), b.view()),
                "{case}: test layouts"
            );

            // Not read: a NaN there would spoil the product.
            let mut out = Array2::from_elem((m, n), f32::NAN);
            matmul(&mut out.view_mut(), &a_view, &b_view);
            assert_product(out.view(), &a, &b, &format!("{case}, plain output"));

            let mut wide = Array2::from_elem((m, 2 * n), UNTOUCHED);
            matmul(&mut wide.slice_mut(s![.., ..;2]), &a_view, &b_view);
            let case_wide = format!("{case}, every other column");
            assert_product(wide.slice(s![.., ..;2]), &a, &b, &case_wide);
            assert!(
                wide.slice(s![.., 1..;2]).iter().all(|&v| v == UNTOUCHED),
                "{case_wide}: a column in between was written"
            );

            let mut big = Array2::from_elem((m + 2, n + 2), UNTOUCHED);
            matmul(&mut big.slice_mut(s![1..=m, 1..=n]), &a_view, &b_view);
            let case_window = format!("{case}, a window");
            assert_product(big.slice(s![1..=m, 1..=n]), &a, &b, &case_window);
            big.slice_mut(s![1..=m, 1..=n]).fill(UNTOUCHED);
            assert!(
                big.iter().all(|&v| v == UNTOUCHED),
                "{case_window}: a value around the window was written"
            );
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
        );
    }
}
