//! DNS component: the public hosted zone the domain lives in (`[dns] zone`),
//! looked up by name. It exists before any stack and is never created or
//! deleted here; the certificates' validation records (R4.1, R10.3) and the
//! app's names go in it.

use morket_stack::model::{ModelError, Resource, Scope};
use morket_stack::provider::aws::route53::get_zone::GetZone;

use super::config::MorketConfig;

pub fn declare(scope: &mut Scope<'_>, cfg: &MorketConfig) -> Result<Resource<GetZone>, ModelError> {
    let mut c = scope.component("morket:Dns", "dns")?;
    c.resource("zone", GetZone::public(&cfg.dns.zone))
}
