//! The kernel's SIMD building blocks: run-time dispatch to the CPU's best instructions, and loops
//! of fixed width that compile to whole vector registers.

/// Runs `work` compiled for the best SIMD instructions this CPU has (AVX2, AVX-512, …), chosen
/// at run time: the loops inlined into it are vectorised for them.
#[inline(always)]
pub(super) fn vectorized<R>(work: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(work)
}

/// The `N` values from `start`.
#[inline(always)]
pub(super) fn lanes<const N: usize>(values: &[f32], start: usize) -> &[f32; N] {
    values[start..start + N].try_into().expect("N values")
}

/// `out[i] += a[i] · b[i]` over a cell's channels. The paper's 16 channels take a path of fixed
/// length, which compiles to single vector instructions (one AVX-512 register, two AVX2 ones).
#[inline(always)]
pub(super) fn multiply_add(out: &mut [f32], a: &[f32], b: &[f32]) {
    if let (Ok(out), Ok(a), Ok(b)) = (
        <&mut [f32; 16]>::try_from(&mut *out),
        <&[f32; 16]>::try_from(a),
        <&[f32; 16]>::try_from(b),
    ) {
        // Read all, then write: the compiler need not prove that `out` overlaps neither input.
        let (a, b) = (*a, *b);
        let mut sum = *out;
        for lane in 0..16 {
            sum[lane] += a[lane] * b[lane];
        }
        *out = sum;
        return;
    }
    for ((out, a), b) in out.iter_mut().zip(a).zip(b) {
        *out += a * b;
    }
}
