//! Account-wide prerequisites: the service-linked roles the data stores and
//! ECS need before their first create (an account that never used OpenSearch
//! in a VPC or ECS capacity providers has none). One per account, shared
//! with every other stack there: an existing role is adopted and `destroy`
//! leaves it. Also who the credentials are (account id, partition), read
//! while planning, for ARNs that must name the account.

use morket_stack::model::{ModelError, Resource, Scope};
use morket_stack::provider::aws::iam::service_linked_role::ServiceLinkedRole;
use morket_stack::provider::aws::sts::caller_identity::GetCallerIdentity;

pub struct Account {
    pub caller: Resource<GetCallerIdentity>,
    pub ecs: Resource<ServiceLinkedRole>,
    pub opensearch: Resource<ServiceLinkedRole>,
    pub elasticache: Resource<ServiceLinkedRole>,
    pub rds: Resource<ServiceLinkedRole>,
}

pub fn declare(scope: &mut Scope<'_>) -> Result<Account, ModelError> {
    let mut c = scope.component("morket:Account", "account")?;
    let caller = c.resource("caller", GetCallerIdentity {})?;
    let mut role = |name: &str, service: &str| c.resource(name, ServiceLinkedRole::new(service));
    Ok(Account {
        caller,
        ecs: role("ecs-role", "ecs.amazonaws.com")?,
        opensearch: role("opensearch-role", "opensearchservice.amazonaws.com")?,
        elasticache: role("elasticache-role", "elasticache.amazonaws.com")?,
        rds: role("rds-role", "rds.amazonaws.com")?,
    })
}
