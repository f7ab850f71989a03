//! The PostgreSQL-free half of pg_embed.
//!
//! A text becomes a vector in stages, one module each:
//! [`tokenize`] (in [`pieces`]; [`chunk`] cuts long texts into chunks that fit) -> [`tensors`] -> [`session`] (ONNX Runtime) -> [`pool`] -> [`normalize`].
//! [`model`] ties the stages together for one model; [`catalog`] says, as data, which models
//! exist and how each is run; [`ortlib`] loads the ONNX Runtime library once per process;
//! [`ensemble`] maps several models' vectors into one space and combines them.
//!
//! Nothing here knows about PostgreSQL, so all of it is testable with plain `cargo test`.

pub mod batch;
pub mod bm25;
pub mod cache;
pub mod catalog;
pub mod chunk;
pub mod definition;
pub mod detect;
pub mod download;
pub mod ensemble;
pub mod error;
pub mod files;
pub mod memory;
pub mod model;
pub mod normalize;
pub mod pieces;
pub mod provenance;
pub mod ortlib;
pub mod pool;
pub mod reserve;
pub mod resources;
pub mod role;
pub mod select;
pub mod session;
pub mod signals;
pub mod stats;
pub mod tensors;
pub mod tokenize;
pub mod vcache;

pub use catalog::{Catalog, ModelSpec, Pooling, Precision};
pub use error::EngineError;
pub use role::Role;
pub use model::{Embedder, LoadOptions};
