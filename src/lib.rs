//! morket-stack: an embedded infrastructure-as-code engine.
//!
//! Declare a [`model::Stack`] of typed resources, then call the [`engine`]
//! API (`preview`, `up`, `destroy`) in-process. See DESIGN.md for the map.

pub mod model;
pub mod provider;
pub mod secrets;
pub mod state;
pub mod value;
