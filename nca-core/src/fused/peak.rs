//! The CPU's multiply-add ceiling, against which the kernel's arithmetic rate is read.

use std::time::Instant;

use rayon::prelude::*;

/// Independent multiply-add chains per thread: enough to keep every FMA unit busy despite each
/// instruction's latency.
const CHAINS: usize = 12;

/// The multiply-add throughput of this CPU in GFLOP/s (a multiply-add counts two), on all of
/// rayon's threads at once, in the widest SIMD the kernel runs (chosen at run time as the
/// kernel's are): the ceiling of the kernel's arithmetic. Measured for about `seconds`.
pub fn multiply_add_peak(seconds: f64) -> f64 {
    let started = Instant::now();
    let flops: f64 = (0..rayon::current_num_threads())
        .into_par_iter()
        .map(|_| pulp::Arch::new().dispatch(Chains { seconds }))
        .sum();
    flops / started.elapsed().as_secs_f64() / 1e9
}

/// Runs `CHAINS` vector multiply-add chains for about `seconds`; gives the FLOPs done.
struct Chains {
    seconds: f64,
}

impl pulp::WithSimd for Chains {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> f64 {
        // x ← x · a + b keeps x at 1: no overflow, no denormals.
        let (a, b) = (simd.splat_f32s(1.0 - 1e-7), simd.splat_f32s(1e-7));
        let mut chains = [simd.splat_f32s(1.0); CHAINS];
        let lanes = size_of::<S::f32s>() / size_of::<f32>();
        let started = Instant::now();
        let mut rounds = 0u64;
        while started.elapsed().as_secs_f64() < self.seconds {
            for _ in 0..10_000 {
                for chain in &mut chains {
                    *chain = simd.mul_add_f32s(*chain, a, b);
                }
            }
            // Opaque to the optimiser, so the chains are computed.
            chains = std::hint::black_box(chains);
            rounds += 10_000;
        }
        (rounds * (CHAINS * lanes * 2) as u64) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_positive_rate() {
        let peak = multiply_add_peak(0.05);
        assert!(peak.is_finite() && peak > 0.1, "{peak} GFLOP/s");
    }
}
