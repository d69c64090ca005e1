//! The elementwise nonlinearities and their derivatives, shared by the activation layer and by
//! the dense-like dropout layers that apply an activation in their own pass.

/// SELU's scale (Klambauer et al. 2017).
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
/// SELU's negative-side coefficient.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// Which elementwise nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationKind {
    Relu,
    Sigmoid,
    Tanh,
    Selu,
}

impl ActivationKind {
    /// The activation a spec names (`relu`, `sigmoid`, `tanh`, `selu`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "relu" => Some(ActivationKind::Relu),
            "sigmoid" => Some(ActivationKind::Sigmoid),
            "tanh" => Some(ActivationKind::Tanh),
            "selu" => Some(ActivationKind::Selu),
            _ => None,
        }
    }

    /// `f(x)`.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            ActivationKind::Relu => x.max(0.0),
            ActivationKind::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            ActivationKind::Tanh => x.tanh(),
            ActivationKind::Selu => {
                if x > 0.0 {
                    SELU_LAMBDA as f32 * x
                } else {
                    (SELU_LAMBDA * SELU_ALPHA) as f32 * x.exp_m1()
                }
            }
        }
    }

    /// `f'(x)` written in terms of the output `y = f(x)`.
    #[inline]
    pub fn grad_from_output(self, y: f32) -> f32 {
        match self {
            ActivationKind::Relu => (y > 0.0) as u8 as f32,
            ActivationKind::Sigmoid => y * (1.0 - y),
            ActivationKind::Tanh => 1.0 - y * y,
            ActivationKind::Selu => {
                if y > 0.0 {
                    SELU_LAMBDA as f32
                } else {
                    y + (SELU_LAMBDA * SELU_ALPHA) as f32
                }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ActivationKind::Relu => "relu",
            ActivationKind::Sigmoid => "sigmoid",
            ActivationKind::Tanh => "tanh",
            ActivationKind::Selu => "selu",
        }
    }
}
