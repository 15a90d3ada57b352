//! Bad input gets a typed error that says what is wrong — never a panic, never NaN.

use nalgebra::DMatrix;
use ntk::{Activation, Error, Kernel, Layer, Network, Parameterization};

fn relu() -> Network {
    Network::mlp(2, Activation::Relu)
        .w_std(1.5)
        .b_std(0.1)
        .build()
        .unwrap()
}

#[test]
fn invalid_networks() {
    let first_act = Network::builder()
        .activation(Activation::Relu)
        .dense(1.0, None)
        .build();
    assert!(matches!(first_act, Err(Error::InvalidNetwork(m)) if m.contains("Gaussian")));
    let two_acts = Network::builder()
        .dense(1.0, None)
        .activation(Activation::Relu)
        .activation(Activation::Tanh)
        .dense(1.0, None)
        .build();
    assert!(matches!(two_acts, Err(Error::InvalidNetwork(m)) if m.contains("layer 2")));
    assert!(matches!(
        Network::builder().build(),
        Err(Error::InvalidNetwork(_))
    ));
    for (w, b) in [
        (-1.0, None),
        (f64::NAN, None),
        (1.0, Some(-0.1)),
        (1.0, Some(f64::INFINITY)),
    ] {
        let r = Network::builder().dense(w, b).build();
        assert!(
            matches!(r, Err(Error::InvalidParameter { .. })),
            "w={w} b={b:?}"
        );
    }
    // The standard parameterization needs the fan-in of every Dense layer after the first.
    let no_width = Network::builder()
        .parameterization(Parameterization::Standard)
        .dense(1.0, None)
        .activation(Activation::Relu)
        .dense(1.0, None)
        .build();
    assert!(matches!(no_width, Err(Error::InvalidNetwork(m)) if m.contains("width")));
    let zero_width = Network::builder().dense_with_width(1.0, None, 0).build();
    assert!(matches!(zero_width, Err(Error::InvalidParameter { .. })));
}

#[test]
fn invalid_activation_parameters() {
    let bad = [
        Activation::LeakyRelu { alpha: f64::NAN },
        Activation::Erf {
            a: 1.0,
            b: f64::INFINITY,
            c: 0.0,
        },
        Activation::Rbf { gamma: -1.0 },
        Activation::Monomial { degree: 1000 },
        Activation::Hermite { degree: 61 },
        Activation::RectifiedMonomial { degree: 21 },
        Activation::Polynomial {
            coef: vec![1.0, f64::NAN],
        },
        Activation::Elu { alpha: f64::NAN },
    ];
    for a in bad {
        let r = Network::builder()
            .dense(1.0, None)
            .layer(Layer::Activation(a.clone()))
            .build();
        match r {
            Err(Error::InvalidParameter { name, .. }) => {
                assert!(name.starts_with("layers[1]."), "{name}")
            }
            other => panic!("{a:?}: expected InvalidParameter, got {other:?}"),
        }
    }
    let nodes = Network::builder()
        .dense(1.0, None)
        .activation(Activation::Tanh)
        .quadrature_nodes(0)
        .build();
    assert!(matches!(nodes, Err(Error::InvalidParameter { .. })));
}

#[test]
fn invalid_inputs() {
    let net = relu();
    let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut nan = x.clone();
    nan[(1, 2)] = f64::NAN;
    match net.gram(&nan) {
        Err(Error::NonFinite { location, .. }) => {
            assert_eq!(location, "row index 1, column index 2 (0-based)")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(net.cross(&x, &nan), Err(Error::NonFinite { .. })));
    assert!(matches!(net.diagonal(&nan), Err(Error::NonFinite { .. })));
    let y = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
    assert!(matches!(
        net.cross(&x, &y),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        net.gram(&DMatrix::zeros(3, 0)),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        net.entry(&[1.0], &[1.0, 2.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        net.entry(&[], &[]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        net.entry(&[f64::INFINITY], &[1.0]),
        Err(Error::NonFinite { .. })
    ));
    // Zero points is not an error: empty matrices.
    let k = net.gram(&DMatrix::zeros(0, 3)).unwrap();
    assert_eq!(k.nngp.shape(), (0, 0));
}

#[test]
fn invalid_specs() {
    for (json, needle) in [
        (r#"{"layers": [{"tahn": {}}]}"#, "unknown variant"),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0, "bstd": 0.1}}]}"#,
            "unknown field",
        ),
        (
            r#"{"layers": [{"relu": {}}, {"dense": {"w_std": 1.0}}]}"#,
            "Gaussian",
        ),
        (
            r#"{"parameterization": "mean_field", "layers": []}"#,
            "unknown variant",
        ),
        (r#"{"layers": [{"dense": {}}]}"#, "w_std"),
        (r#"[1, 2]"#, "network spec"),
    ] {
        match Network::from_json(json) {
            Err(Error::InvalidNetwork(m)) => assert!(m.contains(needle), "{json}: {m}"),
            other => panic!("{json}: expected an error, got {other:?}"),
        }
    }
    // Validation errors keep their variant.
    let neg = Network::from_json(r#"{"layers": [{"dense": {"w_std": -2.0}}]}"#);
    assert!(matches!(neg, Err(Error::InvalidParameter { name, .. }) if name.contains("w_std")));
}

#[test]
fn spec_round_trips_and_custom_activations_do_not_serialize() {
    let net = Network::builder()
        .parameterization(Parameterization::Standard)
        .dense_with_width(1.5, Some(0.1), 64)
        .activation(Activation::Erf {
            a: 0.5,
            b: 2.0,
            c: 0.1,
        })
        .dense_with_width(1.0, None, 32)
        .activation(Activation::Polynomial {
            coef: vec![0.1, 1.0, -0.5],
        })
        .dense(2.0, Some(0.0))
        .quadrature_nodes(30)
        .build()
        .unwrap();
    let back = Network::from_json(&net.to_json().unwrap()).unwrap();
    assert_eq!(back, net);
    let custom = ntk::activation::QuadratureDual::new(
        "cube",
        std::sync::Arc::new(|x: f64| x * x * x),
        std::sync::Arc::new(|x: f64| 3.0 * x * x),
        None,
        8,
    )
    .unwrap();
    let net = Network::builder()
        .dense(1.0, None)
        .activation(Activation::Custom(custom))
        .build()
        .unwrap();
    assert!(matches!(net.to_json(), Err(Error::InvalidNetwork(m)) if m.contains("cube")));
}

#[test]
fn too_large_outputs_are_an_error_with_the_bytes() {
    // A 3e6 × 3e6 kernel (72 TB) cannot be allocated: a typed error with the bytes instead of an
    // abort, while the 3e6 points themselves (24 MB) are fine.
    let net = relu();
    let x = DMatrix::from_element(1, 1, 1.0);
    // The points themselves fit; only the n1 × n2 output does not.
    let big = 3_000_000usize;
    let tall = DMatrix::from_element(big, 1, 0.5);
    match net.cross(&tall, &tall) {
        Err(Error::TooLarge { bytes, .. }) => assert_eq!(bytes, (big as u128).pow(2) * 8),
        other => panic!("expected TooLarge, got {:?}", other.map(|k| k.nngp.shape())),
    }
    assert!(net.cross(&x, &x).is_ok());
}
