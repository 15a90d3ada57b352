//! The integration tests, as one test crate: one binary to compile and link instead of ten (the
//! build dominated the suite's time). Each module is one area of the crate.

mod activations;
mod cli;
mod common;
mod duals;
mod errors;
mod finite;
mod jacobian;
mod numerics;
mod paper;
mod predictions;
mod properties;
mod quadratic;
mod reference;
