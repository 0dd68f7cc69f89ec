//! A user's baseline and how far today is from it, as rule R2 (volume) defines it:
//!
//! - the robust z-score `0.6745 · (x − median) / max(1.4826 · MAD, 0.25 · median, 1)`,
//!   whose floor keeps a flat or tiny history from making every small change look
//!   extreme;
//! - when the history's mean is below 5 (counts too small for a median to mean much), the
//!   Poisson upper tail `P(X ≥ x)` for a Poisson variable of that mean instead.
//!
//! R2 fires when `z ≥ 3.5` and `x ≥ 3 × median` and the volume is large (≥ 5,000 rows or
//! ≥ 50 MB), and is High from `z ≥ 7`. For the Poisson case the same two levels are read
//! as the tail probabilities of a normal variable at 3.5 and 7 (2.33 × 10⁻⁴ and
//! 1.28 × 10⁻¹²), so the two tests agree on what "as unusual" means. Every figure that led
//! to a decision is kept in [`Finding::arithmetic`], to be shown in the alert.

/// Rows or bytes at or above which a volume can alert at all (either suffices).
pub const MIN_ROWS: u64 = 5_000;
pub const MIN_BYTES: u64 = 50 * 1024 * 1024;
/// z at or above which R2 fires, and above which it is High.
pub const Z_FIRE: f64 = 3.5;
pub const Z_HIGH: f64 = 7.0;
/// The normal upper tail at `Z_FIRE` and `Z_HIGH`: the Poisson test's levels.
pub const P_FIRE: f64 = 2.326_290_790_355_25e-4;
pub const P_HIGH: f64 = 1.279_812_543_885_835e-12;
/// Below this mean the history is read as Poisson counts.
pub const POISSON_BELOW_MEAN: f64 = 5.0;

/// The median of `values` (the mean of the middle two for an even count); `None` when
/// empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The median absolute deviation from the median.
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    median(&deviations)
}

/// The `p`-th percentile (0–100) by linear interpolation between closest ranks.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = (p.clamp(0.0, 100.0) / 100.0) * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (rank - lo as f64))
}

/// The robust z-score of `x` against a history with this median and MAD.
pub fn robust_z(x: f64, median: f64, mad: f64) -> f64 {
    let scale = (1.4826 * mad).max(0.25 * median).max(1.0);
    0.6745 * (x - median) / scale
}

/// `P(X ≥ k)` for `X` Poisson with mean `lambda`, summed from `k` upwards (no cancellation
/// when the tail is tiny).
pub fn poisson_upper_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    // ln P(X = k) = −λ + k ln λ − ln k!
    let ln_k_factorial: f64 = (1..=k).map(|i| (i as f64).ln()).sum();
    let mut term = (-lambda + k as f64 * lambda.ln() - ln_k_factorial).exp();
    let mut sum = 0.0;
    let mut i = k;
    while term > 0.0 && term > sum * 1e-17 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
        if i > k + 10_000 {
            break;
        }
    }
    sum.min(1.0)
}

/// How unusual a volume was, and the figures that say so.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The robust z-score, or for a Poisson history the z of a normal variable with the
    /// same upper tail.
    pub z: f64,
    pub high: bool,
    /// The arithmetic, in words, as the alert shows it.
    pub arithmetic: String,
}

/// Rule R2's test of today's rows `x` (and bytes) against the user's daily history, at
/// thresholds `v` divided by `scale` (2 for a leaving user). `None` when it does not fire.
pub fn volume(
    x_rows: u64,
    x_bytes: u64,
    history: &[f64],
    v: &super::rules::Volume,
    scale: u64,
) -> Option<Finding> {
    let scale = scale.max(1);
    if x_rows < v.min_rows / scale && x_bytes < v.min_bytes / scale {
        return None;
    }
    let x = x_rows as f64;
    let mean = if history.is_empty() {
        0.0
    } else {
        history.iter().sum::<f64>() / history.len() as f64
    };
    if mean < POISSON_BELOW_MEAN {
        let p = poisson_upper_tail(x_rows, mean);
        // Bytes past the minimum with rows that are usual still say nothing unusual.
        if p > P_FIRE {
            return None;
        }
        return Some(Finding {
            z: if p <= P_HIGH { v.z_high } else { v.z },
            high: p <= P_HIGH,
            arithmetic: format!(
                "{x_rows} rows today; mean {mean:.2} over {} days → Poisson P(X ≥ {x_rows}) = {p:.3e}",
                history.len()
            ),
        });
    }
    let m = median(history)?;
    let d = mad(history)?;
    let z = robust_z(x, m, d);
    if z < v.z || x < 3.0 * m {
        return None;
    }
    Some(Finding {
        z,
        high: z >= v.z_high,
        arithmetic: format!("{x_rows} rows today; median {m}, MAD {d} → z = {z:.1}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume_d(rows: u64, bytes: u64, history: &[f64]) -> Option<Finding> {
        volume(
            rows,
            bytes,
            history,
            &crate::alerts::rules::Rules::default().volume,
            1,
        )
    }

    #[test]
    fn medians_mads_and_percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]), Some(1.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 95.0), Some(4.8));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
    }

    #[test]
    fn the_z_score_is_the_published_formula() {
        // 1.4826 · 9 = 13.34 > 0.25 · 18 = 4.5 > 1.
        let z = robust_z(412.0, 18.0, 9.0);
        assert!((z - 0.6745 * 394.0 / (1.4826 * 9.0)).abs() < 1e-9, "{z}");
        // A flat history: the floor 0.25 · median applies, not a division by zero.
        assert!((robust_z(400.0, 100.0, 0.0) - 0.6745 * 300.0 / 25.0).abs() < 1e-9);
        // A tiny one: the floor of 1.
        assert!((robust_z(3.0, 1.0, 0.0) - 0.6745 * 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_poisson_tail_matches_known_values() {
        // P(X ≥ 1 | λ = 1) = 1 − e⁻¹.
        assert!((poisson_upper_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-15);
        // P(X ≥ 10 | λ = 2) = 4.649807e-5 (R: ppois(9, 2, lower.tail = FALSE)).
        let p = poisson_upper_tail(10, 2.0);
        assert!((p / 4.649_807e-5 - 1.0).abs() < 1e-5, "{p}");
        assert_eq!(poisson_upper_tail(0, 3.0), 1.0);
        assert_eq!(poisson_upper_tail(5, 0.0), 0.0);
        // Deep in the tail it stays positive and tiny (summed, not 1 − a sum near 1)...
        let deep = poisson_upper_tail(40, 4.0);
        assert!(deep > 0.0 && deep < 1e-20, "{deep}");
        // ...until it is below what an f64 can hold.
        assert_eq!(poisson_upper_tail(5_000, 4.0), 0.0);
    }

    #[test]
    fn volume_fires_only_when_every_condition_holds() {
        let history: Vec<f64> = [900.0, 1_100.0, 1_000.0, 950.0, 1_050.0, 1_000.0, 980.0].to_vec();
        // Large and far above the baseline: fires, High, and says why.
        let f = volume_d(20_000, 0, &history).expect("fires");
        assert!(f.high && f.z >= Z_HIGH, "{f:?}");
        assert!(f.arithmetic.contains("median 1000"), "{}", f.arithmetic);
        // Far above, but under 5,000 rows and 50 MB: silent.
        assert_eq!(volume_d(4_999, 0, &history), None);
        // The same rows, but 60 MB: may fire.
        assert!(volume_d(4_999, 60 * 1024 * 1024, &history).is_some());
        // Large but usual for this user: silent.
        let big: Vec<f64> = vec![20_000.0; 30];
        assert_eq!(volume_d(21_000, 0, &big), None);
        // z ≥ 3.5 but under 3 × median: silent.
        let noisy: Vec<f64> = [5_000.0, 5_001.0, 5_000.0, 4_999.0, 5_000.0].to_vec();
        assert!(robust_z(14_000.0, 5_000.0, 0.0) >= Z_FIRE);
        assert_eq!(volume_d(14_000, 0, &noisy), None);
    }

    #[test]
    fn a_quiet_user_is_judged_by_the_poisson_tail() {
        // Mean under 5: 6,000 rows after days of 0–3 is beyond any Poisson tail.
        let history = [0.0, 1.0, 3.0, 0.0, 2.0];
        let f = volume_d(6_000, 0, &history).expect("fires");
        assert!(f.high, "{f:?}");
        assert!(f.arithmetic.contains("Poisson"), "{}", f.arithmetic);
        // No history at all: mean 0, so any large volume is unusual.
        assert!(volume_d(5_000, 0, &[]).is_some());
    }
}
