//! Router metrics for a strong/weak model pair, as RouteLLM defines them.
//!
//! A router gives each prompt a number (higher: more reason to call the strong model); a
//! threshold on it sends some share of the prompts to the strong model and the rest to the
//! weak one. Sweeping the threshold over every value the router gave traces the curve of
//! PGR (performance gap recovered) against that share:
//!
//! PGR = (routed score - weak score) / (strong score - weak score), scores averaged over prompts.
//!
//! Prompts with equal router values cannot be split by a threshold: the curve has a point at
//! each boundary between distinct values and is linear in between, which is what a router
//! breaking those ties at random achieves on average. So a router that gives every prompt the
//! same value traces the diagonal, the expected curve of random routing (APGR 0.5).
//!
//! - APGR: the area under that curve over shares from 0 to 1 (trapezoids between the points).
//! - CPT(x): the least share of strong calls at which the curve reaches PGR x (interpolated).

/// One point of the curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Share of prompts sent to the strong model, in [0, 1].
    pub strong_share: f64,
    pub pgr: f64,
}

/// One labelled prompt as the metrics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Routed {
    /// The router's value: higher sends the prompt to the strong model first.
    pub router_value: f64,
    pub weak_score: f64,
    pub strong_score: f64,
}

/// The metrics of one router on one set of prompts.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterMetrics {
    pub curve: Vec<CurvePoint>,
    pub apgr: f64,
    /// Least share of strong calls that recovers 50% of the gap.
    pub cpt50: Option<f64>,
    /// Least share of strong calls that recovers 80% of the gap.
    pub cpt80: Option<f64>,
}

/// Why the metrics are undefined for a set of prompts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    #[error("no prompts to evaluate")]
    Empty,
    #[error("a router value or score is not a finite number")]
    NotFinite,
    #[error("the strong model scores no better than the weak one here (gap {0}): PGR is undefined")]
    NoGap(f64),
}

/// PGR curve, APGR and CPT(50%), CPT(80%) of a router.
pub fn router_metrics(prompts: &[Routed]) -> Result<RouterMetrics, MetricsError> {
    let curve = pgr_curve(prompts)?;
    Ok(RouterMetrics {
        apgr: area(&curve),
        cpt50: cost_to_reach(&curve, 0.5),
        cpt80: cost_to_reach(&curve, 0.8),
        curve,
    })
}

/// The PGR curve, from share 0 (all weak, PGR 0) to share 1 (all strong, PGR 1).
pub fn pgr_curve(prompts: &[Routed]) -> Result<Vec<CurvePoint>, MetricsError> {
    if prompts.is_empty() {
        return Err(MetricsError::Empty);
    }
    if prompts.iter().any(|p| {
        !(p.router_value.is_finite() && p.weak_score.is_finite() && p.strong_score.is_finite())
    }) {
        return Err(MetricsError::NotFinite);
    }
    let n = prompts.len() as f64;
    let weak_total: f64 = prompts.iter().map(|p| p.weak_score).sum();
    let strong_total: f64 = prompts.iter().map(|p| p.strong_score).sum();
    let gap = strong_total - weak_total;
    if gap <= 1e-12 * n {
        return Err(MetricsError::NoGap(gap / n));
    }
    let mut order: Vec<&Routed> = prompts.iter().collect();
    order.sort_by(|a, b| b.router_value.total_cmp(&a.router_value));
    let mut curve = vec![CurvePoint {
        strong_share: 0.0,
        pgr: 0.0,
    }];
    let mut recovered = 0.0;
    let mut sent = 0usize;
    let mut i = 0;
    while i < order.len() {
        let value = order[i].router_value;
        while i < order.len() && order[i].router_value == value {
            recovered += order[i].strong_score - order[i].weak_score;
            sent += 1;
            i += 1;
        }
        curve.push(CurvePoint {
            strong_share: sent as f64 / n,
            pgr: recovered / gap,
        });
    }
    Ok(curve)
}

/// Area under a curve by trapezoids.
pub fn area(curve: &[CurvePoint]) -> f64 {
    curve
        .windows(2)
        .map(|w| (w[1].strong_share - w[0].strong_share) * (w[0].pgr + w[1].pgr) / 2.0)
        .sum()
}

/// Least share at which the (piecewise linear) curve reaches `target`, if it ever does.
pub fn cost_to_reach(curve: &[CurvePoint], target: f64) -> Option<f64> {
    let first = curve.first()?;
    if first.pgr >= target {
        return Some(first.strong_share);
    }
    curve.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        (b.pgr >= target).then(|| {
            a.strong_share + (target - a.pgr) / (b.pgr - a.pgr) * (b.strong_share - a.strong_share)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(values: &[f64], weak: &[f64], strong: &[f64]) -> Vec<Routed> {
        values
            .iter()
            .zip(weak)
            .zip(strong)
            .map(|((&router_value, &weak_score), &strong_score)| Routed {
                router_value,
                weak_score,
                strong_score,
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    // Four prompts; the weak model answers one, the strong model three: a gap of 2 prompts.
    // The router's order is rows 0, 2, 3, 1: only rows 0 and 1 are gained by the strong model.
    // Shares 0, .25, .5, .75, 1 have PGR 0, .5, .5, .5, 1; area .0625 + .125 + .125 + .1875.
    #[test]
    fn a_hand_computed_curve_gives_its_apgr_and_cpt() {
        let prompts = routed(
            &[0.9, 0.1, 0.5, 0.3],
            &[0.0, 0.0, 1.0, 0.0],
            &[1.0, 1.0, 1.0, 0.0],
        );
        let metrics = router_metrics(&prompts).unwrap();
        let pgr: Vec<f64> = metrics.curve.iter().map(|p| p.pgr).collect();
        assert_eq!(pgr, [0.0, 0.5, 0.5, 0.5, 1.0]);
        assert!(close(metrics.apgr, 0.5), "{}", metrics.apgr);
        assert!(close(metrics.cpt50.unwrap(), 0.25));
        // Between (.75, .5) and (1, 1): .75 + (.8 - .5) / .5 * .25 = .9
        assert!(close(metrics.cpt80.unwrap(), 0.9));
    }

    #[test]
    fn the_oracle_order_recovers_the_gap_early_and_overshoots() {
        // Gains +1, +1, 0, -1: strong total 2, weak total 1, gap 1.
        let weak = [0.0, 0.0, 1.0, 1.0];
        let strong = [1.0, 1.0, 1.0, 0.0];
        let oracle: Vec<f64> = weak.iter().zip(&strong).map(|(w, s)| s - w).collect();
        let metrics = router_metrics(&routed(&oracle, &weak, &strong)).unwrap();
        let points: Vec<(f64, f64)> = metrics
            .curve
            .iter()
            .map(|p| (p.strong_share, p.pgr))
            .collect();
        assert_eq!(points, [(0.0, 0.0), (0.5, 2.0), (0.75, 2.0), (1.0, 1.0)]);
        // .5 * 2 / 2 + .25 * 2 + .25 * 1.5
        assert!(close(metrics.apgr, 1.375), "{}", metrics.apgr);
        assert!(close(metrics.cpt50.unwrap(), 0.125));
        assert!(close(metrics.cpt80.unwrap(), 0.2));
    }

    #[test]
    fn ties_are_one_step_so_a_constant_router_is_the_random_diagonal() {
        let prompts = routed(&[0.3; 3], &[0.0, 1.0, 0.0], &[1.0, 1.0, 1.0]);
        let metrics = router_metrics(&prompts).unwrap();
        assert_eq!(metrics.curve.len(), 2);
        assert!(close(metrics.apgr, 0.5));
        assert!(close(metrics.cpt50.unwrap(), 0.5));
        assert!(close(metrics.cpt80.unwrap(), 0.8));
    }

    #[test]
    fn graded_scores_count_by_their_size() {
        // Gains .5 and .25 (gap .75): first point PGR 2/3 at share .5.
        let prompts = routed(&[1.0, 0.0], &[0.5, 0.25], &[1.0, 0.5]);
        let metrics = router_metrics(&prompts).unwrap();
        assert!(close(metrics.curve[1].pgr, 2.0 / 3.0));
        assert!(close(
            metrics.apgr,
            0.5 * (2.0 / 3.0) / 2.0 + 0.5 * (2.0 / 3.0 + 1.0) / 2.0
        ));
    }

    #[test]
    fn no_gap_no_prompts_and_nan_are_errors_not_panics() {
        assert_eq!(router_metrics(&[]), Err(MetricsError::Empty));
        let same = routed(&[1.0, 0.0], &[1.0, 0.0], &[1.0, 0.0]);
        assert!(matches!(router_metrics(&same), Err(MetricsError::NoGap(_))));
        let nan = routed(&[f64::NAN], &[0.0], &[1.0]);
        assert_eq!(router_metrics(&nan), Err(MetricsError::NotFinite));
    }
}
