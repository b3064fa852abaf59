//! Shared test support: the moto AWS peer.
#![allow(dead_code)]

pub mod moto;
