//! The integration tests, as one test crate: one binary to compile and link instead of ten (the
//! build dominated the suite's time). Each module is one area of the crate.

mod activations;
mod architectures;
mod cli;
mod cntk_completion;
mod common;
mod completion;
mod duals;
mod errors;
mod features;
mod finite;
mod finite_conv;
mod infinite_depth;
mod iterative;
mod jacobian;
mod numerics;
mod paper;
mod predictions;
mod properties;
mod quadratic;
mod quadrature_fast;
mod quadrature_lanes;
mod reference;
mod tiles;
