//! Shared test support: the moto AWS peer and the set-up of the AWS tests.
#![allow(dead_code)]

pub mod aws;
pub mod moto;
