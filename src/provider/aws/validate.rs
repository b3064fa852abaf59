//! Checks shared by every AWS type (and the stack configs): each error names
//! the field, the value and the rule, before any call.

use std::fmt::Display;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use crate::model::Input;
use crate::provider::ProviderError;

/// `value` is one of `allowed`.
pub fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ProviderError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
    Err(ProviderError::invalid(
        field,
        format!("{value:?}"),
        format!("must be one of {}", list.join(", ")),
    ))
}

/// A name of `len` characters, each an ASCII letter, a digit or one of
/// `extra`; `rule` says so in the error (`1 to 50 letters, digits, '-'`).
pub fn name_chars(
    field: &str,
    value: &str,
    len: RangeInclusive<usize>,
    extra: &str,
    rule: &str,
) -> Result<(), ProviderError> {
    let ok = len.contains(&value.chars().count())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(field, format!("{value:?}"), rule))
    }
}

/// `value` lies in `range`.
pub fn in_range<T: PartialOrd + Display>(
    field: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), ProviderError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ProviderError::invalid(
        field,
        &value,
        format!("must be between {} and {}", range.start(), range.end()),
    ))
}

/// `field` may be set only when `needs` is (`enable_dns_hostnames` needs
/// `enable_dns_support`).
pub fn requires(field: (&str, bool), needs: (&str, bool)) -> Result<(), ProviderError> {
    if field.1 && !needs.1 {
        return Err(ProviderError::invalid(
            field.0,
            true,
            format!("needs {} = true", needs.0),
        ));
    }
    Ok(())
}

/// Parses `a.b.c.d/n` and checks the prefix length lies in `lengths`.
pub fn check_cidr(
    field: &str,
    cidr: &str,
    lengths: RangeInclusive<u8>,
) -> Result<(Ipv4Addr, u8), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{cidr:?}"), why.to_string());
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| bad("expected an IPv4 CIDR like 10.0.0.0/16"))?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| bad("prefix length is not a number"))?;
    if !lengths.contains(&len) {
        return Err(bad(&format!(
            "prefix length must be between /{} and /{}",
            lengths.start(),
            lengths.end()
        )));
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    if u32::from(addr) & !mask != 0 {
        return Err(bad("host bits are set; use the network address"));
    }
    Ok((addr, len))
}

/// A known id starts with `prefix-` and hex-ish characters (unknowns and
/// references pass: they are checked when known).
pub fn check_id(field: &str, v: &Input<String>, prefix: &str) -> Result<(), ProviderError> {
    if let Some(id) = v.known() {
        let ok = id
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(ProviderError::invalid(
                field,
                format!("{id:?}"),
                format!("expected an id like {prefix}-0123456789abcdef0"),
            ));
        }
    }
    Ok(())
}

/// `us-east-1a`, `eu-west-2c`, `us-west-2-lax-1a` (local zones).
pub fn check_az(field: &str, az: &str) -> Result<(), ProviderError> {
    let ok = az.len() >= 4
        && az
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && az.chars().last().is_some_and(|c| c.is_ascii_lowercase())
        && az.contains('-')
        && az.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{az:?}"),
            "expected a zone name like us-east-1a",
        ))
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn check_region(field: &str, region: &str) -> Result<(), ProviderError> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts[0].len() == 2
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{region:?}"),
            "expected a region name like us-east-1",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_field_value_and_rule() {
        for r in ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1"] {
            assert!(check_region("region", r).is_ok(), "{r}");
        }
        for r in ["us-east", "US-EAST-1", "useast1", "us-east-1a"] {
            let e = check_region("region", r).unwrap_err().to_string();
            assert!(e.contains("region") && e.contains(r), "{e}");
        }
        assert!(check_cidr("cidr_block", "10.0.0.0/16", 16..=28).is_ok());
        let e = check_cidr("cidr_block", "10.0.0.1/16", 16..=28).unwrap_err();
        assert!(
            e.to_string().contains("cidr_block") && e.to_string().contains("10.0.0.1/16"),
            "{e}"
        );
        assert!(check_cidr("cidr_block", "10.0.0.0/8", 16..=28).is_err());
        assert!(check_cidr("cidr_block", "nope", 16..=28).is_err());
        let e = one_of("instance_tenancy", "host", &["default", "dedicated"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input instance_tenancy = \"host\": must be one of \"default\", \"dedicated\""
        );
        let e = in_range("port", 70000, 0..=65535).unwrap_err();
        assert!(e.to_string().contains("port = 70000"), "{e}");
        assert!(requires(
            ("enable_dns_hostnames", true),
            ("enable_dns_support", false)
        )
        .is_err());
        assert!(requires(
            ("enable_dns_hostnames", false),
            ("enable_dns_support", false)
        )
        .is_ok());
        assert!(check_id("vpc_id", &Input::from("vpc-0abc"), "vpc").is_ok());
        assert!(check_id("vpc_id", &Input::from("subnet-0abc"), "vpc").is_err());
        assert!(check_id("vpc_id", &Input::Unknown, "vpc").is_ok());
        assert!(check_az("availability_zone", "us-east-1a").is_ok());
        assert!(check_az("availability_zone", "useast").is_err());
    }
}
