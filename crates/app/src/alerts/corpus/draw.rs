//! Randomness, from raw ChaCha8 output only.

use super::*;

pub(super) struct Draw(ChaCha8Rng);

impl Draw {
    pub(super) fn stream(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw(rng)
    }

    pub(super) fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in [lo, hi] (inclusive).
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Nearly standard normal: the sum of twelve uniforms less six (Irwin–Hall; within
    /// ±6). Only additions, so every machine computes the same bits, which `ln` and `cos`
    /// of the platform's maths library would not promise.
    pub(super) fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }

    /// Log-normal with this median and σ of its logarithm.
    pub(super) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * exp(sigma * self.normal())
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index into `weights`, with probability proportional to its weight.
    pub(super) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    pub(super) fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        let mut left = bytes;
        while left > 0 {
            let n = left.min(8);
            let v = self.u64();
            for i in 0..n {
                let b = (v >> (8 * i)) as u8;
                s.push(char::from(HEX[usize::from(b >> 4)]));
                s.push(char::from(HEX[usize::from(b & 15)]));
            }
            left -= n;
        }
        s
    }
}

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

/// `e^x` from additions, multiplications and divisions only (a Taylor series of x/256,
/// squared eight times), so it is the same on every machine; relative error about 1e-13
/// for the |x| ≤ 6 used here.
pub(super) fn exp(x: f64) -> f64 {
    let y = x / 256.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=12 {
        term = term * y / f64::from(k);
        sum += term;
    }
    for _ in 0..8 {
        sum *= sum;
    }
    sum
}
