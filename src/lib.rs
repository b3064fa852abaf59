//! morket-stack: an embedded infrastructure-as-code engine.
//!
//! Declare a [`model::Stack`] of typed resources, then call the [`engine`]
//! API (`preview`, `up`, `destroy`) in-process. See DESIGN.md for the map.

pub mod adopt;
pub mod drift;
pub mod engine;
pub mod exec;
pub mod export;
pub mod graph;
pub mod model;
pub mod plan;
pub mod provider;
pub mod render;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod value;
