//! One `SdkConfig` from the standard chain (env, profiles, SSO, IMDS), shared
//! by every client; retries, timeouts and client-side rate limits.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::OnceCell;

use super::limits::Limits;
use super::tags::Tags;

#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// SDK attempts per call (standard retry mode; the SDK default is 3).
    pub max_attempts: u32,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    /// Tags put on every resource that supports them.
    pub default_tags: Tags,
    /// How long waiters poll before giving up.
    pub wait_timeout: Duration,
    /// Pause between waiter polls.
    pub poll_interval: Duration,
    /// How long a tag-filtered describe may miss a just-created object
    /// (see `Provider::lookup_lag`).
    pub lookup_lag: Duration,
    /// How long a delete keeps retrying `DependencyViolation` while AWS
    /// releases the network interfaces of deleted data stores and tasks
    /// (Terraform: 15 min for security groups, 20 for subnets).
    pub delete_timeout: Duration,
    /// Multiplies every AWS delay and budget the provider assumes (first-poll
    /// delays, not-found grace, propagation and conflict budgets,
    /// `delete_timeout`): 1 on AWS; tests against the AWS-like peer shrink it.
    pub time_scale: f64,
}

impl AwsSettings {
    /// An AWS duration under [`AwsSettings::time_scale`].
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale.max(0.0))
    }
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            region: None,
            profile: None,
            max_attempts: 10,
            attempt_timeout: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(300),
            default_tags: Tags::new(),
            wait_timeout: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(10),
            lookup_lag: Duration::from_secs(60),
            delete_timeout: Duration::from_secs(20 * 60),
            time_scale: 1.0,
        }
    }
}

/// The AWS connection of one engine run. Clients are made on first use, so a
/// preview that calls nothing needs no credentials.
#[derive(Debug)]
pub struct Aws {
    pub settings: AwsSettings,
    pub limits: Limits,
    config: OnceCell<SdkConfig>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    rds: OnceCell<aws_sdk_rds::Client>,
    elasticache: OnceCell<aws_sdk_elasticache::Client>,
    mq: OnceCell<aws_sdk_mq::Client>,
    opensearch: OnceCell<aws_sdk_opensearch::Client>,
    ecs: OnceCell<aws_sdk_ecs::Client>,
    iam: OnceCell<aws_sdk_iam::Client>,
    logs: OnceCell<aws_sdk_cloudwatchlogs::Client>,
    ssm: OnceCell<aws_sdk_ssm::Client>,
    sts: OnceCell<aws_sdk_sts::Client>,
    /// Whether the chain gave credentials, asked once (lookups, which a
    /// preview without credentials leaves unread).
    credentials: OnceCell<Result<(), String>>,
}

impl Aws {
    pub fn new(settings: AwsSettings) -> Self {
        Aws {
            settings,
            limits: Limits::default(),
            config: OnceCell::new(),
            ec2: OnceCell::new(),
            rds: OnceCell::new(),
            elasticache: OnceCell::new(),
            mq: OnceCell::new(),
            opensearch: OnceCell::new(),
            ecs: OnceCell::new(),
            iam: OnceCell::new(),
            logs: OnceCell::new(),
            ssm: OnceCell::new(),
            sts: OnceCell::new(),
            credentials: OnceCell::new(),
        }
    }

    /// Uses a ready `SdkConfig` (tests point it at a mock or at moto).
    pub fn with_config(settings: AwsSettings, config: SdkConfig) -> Self {
        let aws = Self::new(settings);
        aws.config.set(config).expect("fresh cell");
        aws
    }

    /// Uses a ready EC2 client (aws-smithy-mocks tests).
    pub fn with_ec2(self, client: aws_sdk_ec2::Client) -> Self {
        self.ec2.set(client).expect("fresh cell");
        self
    }

    /// Uses a ready RDS client (aws-smithy-mocks tests).
    pub fn with_rds(self, client: aws_sdk_rds::Client) -> Self {
        self.rds.set(client).expect("fresh cell");
        self
    }

    pub fn with_elasticache(self, client: aws_sdk_elasticache::Client) -> Self {
        self.elasticache.set(client).expect("fresh cell");
        self
    }

    pub fn with_mq(self, client: aws_sdk_mq::Client) -> Self {
        self.mq.set(client).expect("fresh cell");
        self
    }

    pub fn with_opensearch(self, client: aws_sdk_opensearch::Client) -> Self {
        self.opensearch.set(client).expect("fresh cell");
        self
    }

    pub fn with_ecs(self, client: aws_sdk_ecs::Client) -> Self {
        self.ecs.set(client).expect("fresh cell");
        self
    }

    pub fn with_iam(self, client: aws_sdk_iam::Client) -> Self {
        self.iam.set(client).expect("fresh cell");
        self
    }

    pub fn with_logs(self, client: aws_sdk_cloudwatchlogs::Client) -> Self {
        self.logs.set(client).expect("fresh cell");
        self
    }

    /// `Err` with the chain's reason when no credentials can be had.
    pub async fn credentials(&self) -> Result<(), String> {
        self.credentials
            .get_or_init(|| async {
                use aws_credential_types::provider::ProvideCredentials;
                let config = self.config().await;
                let Some(p) = config.credentials_provider() else {
                    return Err("no credentials provider is configured".to_string());
                };
                p.provide_credentials().await.map(|_| ()).map_err(|e| {
                    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
                })
            })
            .await
            .clone()
    }

    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let s = &self.settings;
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(s.max_attempts)
                            .with_initial_backoff(Duration::from_millis(500)),
                    )
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_attempt_timeout(s.attempt_timeout)
                            .operation_timeout(s.operation_timeout)
                            .connect_timeout(Duration::from_secs(10))
                            .build(),
                    );
                if let Some(r) = &s.region {
                    loader = loader.region(Region::new(r.clone()));
                }
                if let Some(p) = &s.profile {
                    loader = loader.profile_name(p);
                }
                loader.load().await
            })
            .await
    }

    pub async fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2
            .get_or_init(|| async { aws_sdk_ec2::Client::new(self.config().await) })
            .await
    }

    pub async fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds
            .get_or_init(|| async { aws_sdk_rds::Client::new(self.config().await) })
            .await
    }

    pub async fn elasticache(&self) -> &aws_sdk_elasticache::Client {
        self.elasticache
            .get_or_init(|| async { aws_sdk_elasticache::Client::new(self.config().await) })
            .await
    }

    pub async fn mq(&self) -> &aws_sdk_mq::Client {
        self.mq
            .get_or_init(|| async { aws_sdk_mq::Client::new(self.config().await) })
            .await
    }

    pub async fn opensearch(&self) -> &aws_sdk_opensearch::Client {
        self.opensearch
            .get_or_init(|| async { aws_sdk_opensearch::Client::new(self.config().await) })
            .await
    }

    pub async fn ecs(&self) -> &aws_sdk_ecs::Client {
        self.ecs
            .get_or_init(|| async { aws_sdk_ecs::Client::new(self.config().await) })
            .await
    }

    /// IAM is global: the SDK resolves its one endpoint from any region.
    pub async fn iam(&self) -> &aws_sdk_iam::Client {
        self.iam
            .get_or_init(|| async { aws_sdk_iam::Client::new(self.config().await) })
            .await
    }

    pub async fn logs(&self) -> &aws_sdk_cloudwatchlogs::Client {
        self.logs
            .get_or_init(|| async { aws_sdk_cloudwatchlogs::Client::new(self.config().await) })
            .await
    }

    pub async fn ssm(&self) -> &aws_sdk_ssm::Client {
        self.ssm
            .get_or_init(|| async { aws_sdk_ssm::Client::new(self.config().await) })
            .await
    }

    pub async fn sts(&self) -> &aws_sdk_sts::Client {
        self.sts
            .get_or_init(|| async { aws_sdk_sts::Client::new(self.config().await) })
            .await
    }
}
