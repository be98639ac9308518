//! A market with planted predictability, written as a recording: each symbol's log return over
//! one step follows its return over the step before with a known correlation, so how well an
//! analyzer that ranks by the last move ranks the next one is known before it runs.
//!
//! Returns per step are a Gaussian AR(1) per symbol: `r(t+1) = ρ·r(t) + √(1-ρ²)·σ·ε(t+1)`,
//! started from its stationary law, each symbol independent. Score and next return are then
//! bivariate normal with correlation ρ, across symbols as over time, so the expected Spearman
//! correlation across `n` symbols is Moran's (1948):
//! `E[r_s] = 6/(π(n+1)) · (arcsin ρ + (n-2)·arcsin(ρ/2))`.

use std::io::Write;
use std::path::Path;

use rand::{RngExt, SeedableRng};

/// What the market is made of.
#[derive(Debug, Clone, Copy)]
pub struct Planted {
    /// Symbols, each with its own walk.
    pub symbols: usize,
    /// Snapshots written.
    pub steps: usize,
    /// Time between snapshots, ms.
    pub step_ms: i64,
    /// Correlation of one step's return with the next's.
    pub rho: f64,
    /// Standard deviation of a step's log return.
    pub sigma: f64,
    /// The generator's seed.
    pub seed: u64,
}

impl Planted {
    /// The expected mean Spearman correlation across symbols between the last step's return and
    /// the return over the next `steps` steps (Moran's formula above, with the correlation of the
    /// two: `Σⱼ ρʲ / √(k + 2·Σⱼ (k−j)·ρʲ)` for `k` steps, the sums over `j` from 1, the second
    /// to `k − 1`).
    pub fn expected_rank_ic(&self, steps: u32) -> f64 {
        let (rho, k) = (self.rho, f64::from(steps));
        let covariance: f64 = (1..=steps).map(|j| rho.powi(j as i32)).sum();
        let variance = k + 2.0 * (1..steps).map(|j| (k - f64::from(j)) * rho.powi(j as i32)).sum::<f64>();
        let r = covariance / variance.sqrt();
        let n = self.symbols as f64;
        6.0 / (std::f64::consts::PI * (n + 1.0)) * (r.asin() + (n - 2.0) * (r / 2.0).asin())
    }

    /// Writes the recording to `path`: `steps` snapshots `step_ms` apart from 2026-01-01, every
    /// symbol's 24 h turnover distinct and fixed, so the selection keeps them in one order.
    pub fn write(&self, path: &Path) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let mut normal = move || {
            // Box-Muller, on (0, 1] so the logarithm is finite.
            let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let mut returns: Vec<f64> = (0..self.symbols).map(|_| self.sigma * normal()).collect();
        let mut log_prices = vec![(100.0f64).ln(); self.symbols];
        let innovation = (1.0 - self.rho * self.rho).sqrt() * self.sigma;
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let start_ms = 1_767_225_600_000i64;
        for step in 0..self.steps {
            if step > 0 {
                for (r, p) in returns.iter_mut().zip(&mut log_prices) {
                    *r = self.rho * *r + innovation * normal();
                    *p += *r;
                }
            }
            let tickers: Vec<serde_json::Value> = log_prices
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let price = p.exp();
                    serde_json::json!({
                        "symbol": format!("P{i:03}USDT"),
                        "price": price,
                        "change_24h": 0.0,
                        "volume_24h": 1000.0,
                        "turnover_24h": 1.0e9 - i as f64 * 1.0e6,
                        "high_24h": price,
                        "low_24h": price,
                    })
                })
                .collect();
            let line = serde_json::json!({
                "timestamp_ms": start_ms + step as i64 * self.step_ms,
                "tickers": tickers,
            });
            writeln!(out, "{line}").unwrap();
        }
        out.flush().unwrap();
    }
}
