//! Backoff delays and rate-limit headers.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::HttpPolicy;

/// Exponential backoff with full jitter: a random delay in `[d/2, d]` where `d = initial · 2^attempt`, capped.
pub(crate) fn jittered(policy: &HttpPolicy, attempt: u32) -> Duration {
    let exp = policy
        .initial_backoff
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_backoff);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

/// How long the provider asks us to wait: `Retry-After` (seconds or HTTP date), or on a 429 the reset time of the
/// rate-limit window — `X-Rate-Limit-Reset` (Okta) or `X-RateLimit-Reset` (Auth0, GitHub), epoch seconds — measured
/// against the response's `Date` as the providers' SDKs do, plus one second.
pub fn retry_after(headers: &HeaderMap, status: u16) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(SystemTime::now()).unwrap_or_default());
        }
    }
    if status == 429 {
        let reset = ["x-rate-limit-reset", "x-ratelimit-reset"]
            .iter()
            .flat_map(|name| headers.get_all(*name).iter())
            .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .min()?;
        let now = text("date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .unwrap_or_else(SystemTime::now)
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs();
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn reads_retry_after_seconds_and_dates() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7".into())]), 503),
            Some(Duration::from_secs(7))
        );
        let later = SystemTime::now() + Duration::from_secs(30);
        let d = retry_after(&headers(&[("retry-after", httpdate::fmt_http_date(later))]), 429).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(retry_after(&headers(&[]), 503), None);
    }

    #[test]
    fn reads_okta_rate_limit_reset_against_date_on_429_only() {
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = headers(&[
            ("date", httpdate::fmt_http_date(date)),
            ("x-rate-limit-reset", "1700000010".into()),
            ("x-rate-limit-reset", "1700000004".into()),
        ]);
        assert_eq!(retry_after(&h, 429), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(&h, 200), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = HttpPolicy::default();
        for attempt in 0..20 {
            let d = jittered(&p, attempt);
            assert!(d <= p.max_backoff, "{d:?}");
            let floor = (p.initial_backoff * 2u32.pow(attempt.min(10))).min(p.max_backoff) / 2;
            assert!(d >= floor, "{attempt}: {d:?} < {floor:?}");
        }
    }
}
