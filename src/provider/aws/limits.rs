//! Client-side rate limits (token buckets) so a large apply stays under AWS's
//! own throttling buckets instead of spending its retries on them.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token bucket: `capacity` tokens, refilled at `per_second`.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(capacity: u32, per_second: f64) -> Self {
        TokenBucket {
            capacity: capacity as f64,
            per_second,
            state: Mutex::new((capacity as f64, Instant::now())),
        }
    }

    /// Waits until a token is available and takes it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                let refill = now.duration_since(s.1).as_secs_f64() * self.per_second;
                s.0 = (s.0 + refill).min(self.capacity);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.0) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The buckets of one account and region. EC2's follow its documented API
/// throttling (mutating 50 / 5 per s, describes 100 / 20 per s,
/// CreateNatGateway 10 / 1 per s); the other services publish no figures, so
/// each gets a conservative bucket of its own. IAM is global, so its bucket
/// is shared by every region of the account; CloudWatch Logs documents 5
/// transactions per second for its log-group calls.
#[derive(Debug)]
pub struct Limits {
    pub ec2_mutating: TokenBucket,
    pub ec2_describe: TokenBucket,
    pub ec2_nat: TokenBucket,
    pub rds: TokenBucket,
    pub elasticache: TokenBucket,
    pub mq: TokenBucket,
    pub opensearch: TokenBucket,
    pub ecs: TokenBucket,
    pub iam: TokenBucket,
    pub logs: TokenBucket,
    pub ssm: TokenBucket,
    pub sts: TokenBucket,
    pub elbv2: TokenBucket,
    pub acm: TokenBucket,
    pub route53: TokenBucket,
    pub s3: TokenBucket,
    pub cloudfront: TokenBucket,
    pub secretsmanager: TokenBucket,
    pub ecr: TokenBucket,
    pub appautoscaling: TokenBucket,
    pub cloudwatch: TokenBucket,
    pub sns: TokenBucket,
    pub servicediscovery: TokenBucket,
    pub backup: TokenBucket,
    pub wafv2: TokenBucket,
    pub tagging: TokenBucket,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ec2_mutating: TokenBucket::new(50, 5.0),
            ec2_describe: TokenBucket::new(100, 20.0),
            ec2_nat: TokenBucket::new(10, 1.0),
            rds: TokenBucket::new(40, 10.0),
            elasticache: TokenBucket::new(40, 10.0),
            mq: TokenBucket::new(20, 5.0),
            opensearch: TokenBucket::new(20, 5.0),
            ecs: TokenBucket::new(40, 20.0),
            iam: TokenBucket::new(20, 5.0),
            logs: TokenBucket::new(5, 5.0),
            // GetParameter's default throughput is 40 per second.
            ssm: TokenBucket::new(40, 40.0),
            sts: TokenBucket::new(20, 10.0),
            elbv2: TokenBucket::new(20, 10.0),
            acm: TokenBucket::new(10, 5.0),
            route53: // Route 53 allows five requests per second per account.
            TokenBucket::new(5, 5.0),
            s3: TokenBucket::new(50, 50.0),
            cloudfront: TokenBucket::new(10, 2.0),
            secretsmanager: TokenBucket::new(20, 10.0),
            ecr: TokenBucket::new(20, 10.0),
            appautoscaling: TokenBucket::new(10, 5.0),
            cloudwatch: TokenBucket::new(20, 10.0),
            sns: TokenBucket::new(20, 10.0),
            servicediscovery: TokenBucket::new(10, 5.0),
            backup: TokenBucket::new(10, 5.0),
            wafv2: TokenBucket::new(10, 5.0),
            // GetResources: AWS documents no figure; kept low.
            tagging: TokenBucket::new(5, 2.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_a_burst_then_refills() {
        let b = TokenBucket::new(10, 1.0);
        let t0 = Instant::now();
        for _ in 0..10 {
            b.acquire().await;
        }
        assert!(
            t0.elapsed() < Duration::from_millis(1),
            "burst of capacity is free"
        );
        for _ in 0..3 {
            b.acquire().await;
        }
        let e = t0.elapsed();
        assert!(
            e >= Duration::from_secs(3) && e < Duration::from_millis(3100),
            "{e:?}"
        );
    }
}
