//! Registry component (R17): the `morket-backend`, `morket-scraper` and
//! `morket-frontend` ECR repositories, scanned on push, encrypted with the
//! account's default ECR KMS key, keeping the 20 newest tagged images and
//! expiring untagged ones after 7 days. Both environments share one account,
//! so the names carry the environment (`morket-staging-backend`): R17.1's
//! `morket-backend` would be one repository fought over by two stacks.

use morket_stack::model::{ModelError, Resource, Scope};
use morket_stack::provider::aws::ecr::lifecycle_policy::{LifecyclePolicy, LifecycleRule};
use morket_stack::provider::aws::ecr::repository::{EncryptionConfiguration, Repository};

use super::config::MorketConfig;
use super::network::name_tag;

pub struct Registry {
    pub backend: Resource<Repository>,
    pub scraper: Resource<Repository>,
    pub frontend: Resource<Repository>,
}

impl Registry {
    pub fn all(&self) -> [(&'static str, &Resource<Repository>); 3] {
        [
            ("backend", &self.backend),
            ("scraper", &self.scraper),
            ("frontend", &self.frontend),
        ]
    }
}

pub fn declare(scope: &mut Scope<'_>, cfg: &MorketConfig) -> Result<Registry, ModelError> {
    let mut c = scope.component("morket:Registry", "registry")?;
    let repo = |c: &mut Scope<'_>, app: &str| -> Result<Resource<Repository>, ModelError> {
        let mut r = Repository::new(&format!("morket-{}-{app}", cfg.environment));
        r.image_scanning_configuration.scan_on_push = true;
        // KMS with no key: the account's AWS-managed `aws/ecr` key (R17.4).
        r.encryption_configuration = Some(EncryptionConfiguration {
            encryption_type: "KMS".into(),
            kms_key: None,
        });
        r.image_tag_mutability = "MUTABLE".into();
        // Staging is rebuilt from scratch; production keeps its images.
        r.force_delete = !cfg.is_production();
        r.tags = name_tag(cfg, &format!("ecr-{app}"));
        let r = c.resource(app, r)?;
        c.resource(
            &format!("{app}-lifecycle"),
            LifecyclePolicy::new(r.name(), vec![expire_untagged(), keep_tagged()]),
        )?;
        Ok(r)
    };
    Ok(Registry {
        backend: repo(&mut c, "backend")?,
        scraper: repo(&mut c, "scraper")?,
        frontend: repo(&mut c, "frontend")?,
    })
}

fn expire_untagged() -> LifecycleRule {
    let mut r = LifecycleRule::expire_after_days(1, "untagged", 7);
    r.description = Some("expire untagged images after 7 days".into());
    r
}

fn keep_tagged() -> LifecycleRule {
    let mut r = LifecycleRule::keep_newest(2, "tagged", &[], 20);
    // Every tag: ECR wants a prefix or pattern list with "tagged".
    r.selection.tag_pattern_list = vec!["*".into()];
    r.description = Some("keep the 20 newest tagged images".into());
    r
}
