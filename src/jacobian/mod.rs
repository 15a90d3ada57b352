//! Input-output Jacobians of trained autoencoders (Jiang & Pehlevan 2020; thesis ch. 2): closed
//! forms from the papers, to be checked against the general machinery.

pub mod closed_form;
pub mod gradient_flow;
