//! The anomaly statistic: is this hour far above the organisation's own recent hours?
//!
//! For a metric (spend in dollars, or requests) the baseline is the previous
//! `anomaly_baseline_hours` complete UTC hours (24 by default, hours without traffic counting
//! as 0). Its centre is the median and its spread the median absolute deviation (MAD) scaled
//! by 1.4826, the robust stand-ins for mean and standard deviation: one earlier spike does not
//! raise the bar, as it would a mean. An hour is anomalous when its value exceeds all three of
//!
//! - `median + k × 1.4826 × MAD` (`k` = `anomaly_sensitivity`, 5),
//! - `anomaly_min_ratio × median` (3×; a flat baseline has MAD 0, and any blip would pass),
//! - a floor (`anomaly_min_usd`, $1, or `anomaly_min_requests`, 100), so that a quiet
//!   organisation's first busy hour is not an anomaly.
//!
//! The hour under test is the current one, so far: an episode is raised as soon as the hour
//! passes the threshold, not after it ends.

/// The verdict on one hour.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Verdict {
    pub value: f64,
    pub median: f64,
    pub mad: f64,
    pub threshold: f64,
    pub anomalous: bool,
}

/// The knobs of the statistic.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub sensitivity: f64,
    pub min_ratio: f64,
    pub floor: f64,
}

const MAD_TO_SIGMA: f64 = 1.4826;

pub fn judge(baseline: &[f64], value: f64, rule: Rule) -> Verdict {
    let median = median(baseline);
    let deviations: Vec<f64> = baseline.iter().map(|v| (v - median).abs()).collect();
    let mad = median_of(deviations);
    let threshold = (median + rule.sensitivity * MAD_TO_SIGMA * mad)
        .max(rule.min_ratio * median)
        .max(rule.floor);
    Verdict {
        value,
        median,
        mad,
        threshold,
        anomalous: value > threshold,
    }
}

fn median(values: &[f64]) -> f64 {
    median_of(values.to_vec())
}

fn median_of(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        sensitivity: 5.0,
        min_ratio: 3.0,
        floor: 10.0,
    };

    #[test]
    fn a_spike_far_above_a_noisy_baseline_is_anomalous() {
        let baseline = [20.0, 22.0, 18.0, 25.0, 19.0, 21.0, 23.0, 20.0];
        let v = judge(&baseline, 200.0, RULE);
        assert_eq!(v.median, 20.5);
        assert!(v.anomalous, "{v:?}");
        // Within the spread, or under three times the median, it is not.
        assert!(!judge(&baseline, 40.0, RULE).anomalous);
        assert!(!judge(&baseline, 61.0, RULE).anomalous);
    }

    #[test]
    fn one_earlier_spike_does_not_raise_the_bar() {
        let mut baseline = vec![20.0; 23];
        baseline.push(5_000.0);
        let v = judge(&baseline, 100.0, RULE);
        assert_eq!((v.median, v.mad), (20.0, 0.0));
        assert!(v.anomalous);
    }

    #[test]
    fn a_quiet_organisation_needs_the_floor() {
        let v = judge(&[0.0; 24], 9.0, RULE);
        assert!(!v.anomalous);
        assert_eq!(v.threshold, 10.0);
        assert!(judge(&[0.0; 24], 11.0, RULE).anomalous);
        assert!(!judge(&[], 0.0, RULE).anomalous);
    }
}
