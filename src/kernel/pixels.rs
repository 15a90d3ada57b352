//! Per-output-pixel kernels of a network that maps one image to an image: the P × P matrices
//! Σ(Z, Z)_{p,p′} and Θ(Z, Z)_{p,p′} over pairs of *output pixels* of a single input Z.
//!
//! This is the kernel of matrix completion with a convolutional network (Radhakrishnan 2023,
//! Ch. 3.4, Prop. 3, eq. 3.4): the network f_Z(W) maps a fixed prior Z to the image, each observed
//! pixel M_ij is a training example, and K(M_ij, M_i′j′) = \[Θ⁽ᵈ⁾(Z, Z)\]_{i,j,i′,j′}. It is the
//! pixel-pair state of Z with itself that the convolutional kernels of [`crate::kernel`] reduce to
//! one number per pair of inputs (by flatten or global average pooling); here nothing is reduced.
//!
//! Conventions are the crate's (neural-tangents' `stax`, ntk parameterization by default): the
//! input state is Σ⁽⁰⁾(p, p′) = Σ_c Z_{p,c}Z_{p′,c}/C, a convolution averages over its F taps
//! (Σ′ = σ_w²/F·Σ_δ Σ(p + δ, p′ + δ) + σ_b²) and Θ ← Σ_new + σ_w²Θ. The thesis sums over channels
//! and taps instead (its ψ = Σ_ℓ Σ_window Z Z), so with σ_w = 1 in the first convolution its kernel
//! is C·F times this one — a constant factor, which kernel regression ignores.
//!
//! ```
//! use ntk::Activation;
//! use ntk::kernel::pixels::PixelNetwork;
//! use ntk::network::{Conv, Layer, Padding, Parameterization};
//! // conv 3×3 → ReLU → conv 3×3 on a 4 × 4 image with 2 channels, circular padding.
//! let conv = |w: f64| Layer::from(Conv::new(&[3, 3], w).padding(Padding::Circular));
//! let layers = vec![conv(1.0), Activation::Relu.into(), conv(2f64.sqrt())];
//! let net = PixelNetwork::new(&layers, &[4, 4, 2], Parameterization::Ntk)?;
//! assert_eq!(net.output_shape(), &[4, 4]);
//! // A constant prior: every pixel pair has Σ⁽¹⁾ = 1, so Θ = κ₁(1) = 2 everywhere.
//! let k = net.pixel_kernels(&[1.0; 32])?;
//! assert_eq!(k.ntk.shape(), (16, 16));
//! assert!(k.ntk.iter().all(|v| (v - 2.0).abs() < 1e-14));
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::activation::DEFAULT_NODES;
use crate::layers::ImagePlan;
use crate::linalg::{check_finite_slice, ensure_memory};
use crate::network::{Layer, Parameterization};
use crate::{Error, Result};
use nalgebra::DMatrix;

/// A network from an image (`input_shape` = \[H, W, C\] or \[L, C\], channels last) to an image:
/// convolutions, pooling, activations, layer norm and residual blocks, with no flatten or global
/// pooling at the end. Its kernels are the per-output-pixel matrices of one input
/// ([`PixelNetwork::pixel_kernels`]).
#[derive(Debug, Clone)]
pub struct PixelNetwork {
    layers: Vec<Layer>,
    input_shape: Vec<usize>,
    plan: ImagePlan,
}

/// The NNGP and NTK between every pair of output pixels of one input, P × P with P the output's
/// pixels in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelKernels {
    /// Σ(Z, Z)_{p,p′}.
    pub nngp: DMatrix<f64>,
    /// Θ(Z, Z)_{p,p′}.
    pub ntk: DMatrix<f64>,
    /// The output's spatial axes.
    pub shape: Vec<usize>,
}

impl PixelNetwork {
    /// Checks and compiles `layers` for inputs of `input_shape` (spatial axes, then channels).
    /// Fails ([`Error::InvalidNetwork`], [`Error::InvalidParameter`]) for a bad layer or shape, or a
    /// network whose output is not an image.
    pub fn new(
        layers: &[Layer],
        input_shape: &[usize],
        parameterization: Parameterization,
    ) -> Result<Self> {
        if input_shape.len() < 2 {
            return Err(Error::InvalidParameter {
                name: "input_shape".into(),
                value: format!("{input_shape:?}"),
                reason:
                    "a per-pixel kernel needs an image: give [L, C] or [H, W, C] (channels last)"
                        .into(),
            });
        }
        let plan = ImagePlan::compile_to(
            layers,
            parameterization,
            DEFAULT_NODES,
            Some(input_shape),
            true,
        )?;
        Ok(Self {
            layers: layers.to_vec(),
            input_shape: input_shape.to_vec(),
            plan,
        })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The input's shape (spatial axes, then channels).
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The output's spatial axes.
    pub fn output_shape(&self) -> &[usize] {
        &self.plan.output_spatial
    }

    /// The output's pixels P (the kernels are P × P).
    pub fn output_pixels(&self) -> usize {
        self.plan.output_spatial.iter().product()
    }

    /// Σ(Z, Z) and Θ(Z, Z) over pairs of output pixels for one input `z`, a flattened
    /// channels-last tensor of `input_shape`. Costs O(P²) memory for the largest pixel-pair state
    /// of the network. Fails on a wrong length, a non-finite entry ([`Error::NonFinite`]), a state
    /// too large for memory ([`Error::TooLarge`]) or a value that overflows ([`Error::Overflow`]).
    pub fn pixel_kernels(&self, z: &[f64]) -> Result<PixelKernels> {
        let d: usize = self.input_shape.iter().product();
        if z.len() != d {
            return Err(Error::ShapeMismatch {
                what: "prior Z (a flattened channels-last image of input_shape)".into(),
                expected: format!("{d} values for {:?}", self.input_shape),
                found: format!("{} values", z.len()),
            });
        }
        check_finite_slice(z, "prior Z")?;
        // Σ, Θ and three scratch copies of the largest state, plus the two outputs.
        ensure_memory(
            "pixel-pair states of the per-pixel kernel",
            7 * self.plan.max_len as u128,
        )?;
        let (s, t) = self
            .plan
            .self_state(z)
            .map_err(|(layer, value)| Error::Overflow {
                layer,
                activation: self.layers[layer].name(),
                value,
            })?;
        let p = self.output_pixels();
        debug_assert_eq!(s.len(), p * p);
        // Row-major p × p: the transpose of nalgebra's column-major read, and both are symmetric.
        Ok(PixelKernels {
            nngp: DMatrix::from_row_slice(p, p, &s),
            ntk: DMatrix::from_row_slice(p, p, &t),
            shape: self.plan.output_spatial.clone(),
        })
    }
}
