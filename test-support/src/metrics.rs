//! Reading the server's Prometheus scrape in tests, the way a scraper would.

use crate::TestApp;

/// One scrape, parsed.
pub struct Scraped(prometheus_parse::Scrape);

impl Scraped {
    /// The sum of the samples of `name` carrying every one of `labels`, as a whole count.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .map(|v: f64| format!("{v}").parse::<u64>().expect("a whole count"))
            .sum()
    }

    /// Whether the scrape describes the family `name`.
    pub fn describes(&self, name: &str) -> bool {
        self.0.docs.contains_key(name)
    }
}

impl TestApp {
    /// `GET /metrics` with `token` (the app's `METRICS_TOKEN`), which must answer 200.
    pub async fn scrape(&self, token: &str) -> Scraped {
        let res = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        let text = res.text().await.unwrap();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Scraped(prometheus_parse::Scrape::parse(lines).expect("a valid scrape"))
    }
}
