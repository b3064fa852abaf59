//! Shared test support: the moto AWS peer, and the engine driven over it.
#![allow(dead_code)]

pub mod engine;
pub mod moto;
